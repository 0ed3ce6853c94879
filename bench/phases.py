"""The measurements of one run: cold convergence, settling, a traffic window, change latency
(the floor is :mod:`bench.floor`).

Each phase is one coroutine over clients from :mod:`bench.cluster`; :mod:`bench.run` strings
them together around one operator process. Nothing here sleeps for a fixed time to let
something happen: every wait polls for what it waits on, with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from bench.apimetrics import HOST_RESOURCES, MEMBER_RESOURCES, Scrape, delta, parse, raw_writes
from bench.cluster import BenchPlane, apply, table
from bench.workload import Shape
from bizdomain import names
from bizdomain.api.common import parse_quantity
from bizdomain.members import Kube
from bizdomain.sync.host import HOST_SELECTOR

DOMAINS_PATH = f"/apis/{names.API_VERSION}/{names.PLURAL_DOMAIN}"


@dataclass
class Cold:
    seconds: float  # first input applied -> every domain Ready
    inputs_seconds: float  # first input applied -> the last domain and binding applied
    members_seconds: float  # first input applied -> the operator had created every member object
    ready: int
    polls: int
    # (seconds, domains applied, bindings applied, member objects created, domains Ready), every ~5 s
    timeline: list[tuple[float, int, int, int, int]] = field(default_factory=list)


async def wait_members_ready(host: Kube, members: Sequence[str], within: float = 120) -> None:
    """Until every MemberCluster says Ready (the operator reached it and installed its CRD)."""
    deadline = time.monotonic() + within
    while True:
        ready = 0
        for name in members:
            obj = await host.get(names.KIND_MEMBER, name)
            conditions = ((obj or {}).get("status") or {}).get("conditions") or []
            ready += any(c.get("type") == names.COND_READY and c.get("status") == "True" for c in conditions)
        if ready == len(members):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ready}/{len(members)} MemberClusters Ready after {within:.0f}s")
        await asyncio.sleep(0.5)


def _ready(row: dict[str, object], shape: Shape) -> bool:
    """A ``kubectl get domains`` row of a domain Ready in every environment on every cluster."""
    expected = shape.clusters_per_domain()
    environments = str(row.get("Environments") or "")
    return (
        row.get("Ready") == "True"
        and row.get("Clusters") == f"{expected}/{expected}"
        and len([e for e in environments.split(",") if e]) == shape.environments
    )


def _row(domain: dict[str, Any]) -> dict[str, object]:
    """The printer columns ``kubectl get domains`` shows, from the object (same JSONPaths as the CRD)."""
    status = domain.get("status") or {}
    summary = status.get("summary") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return {"Environments": summary.get("environments"), "Clusters": summary.get("clusters"), "Ready": ready}


class Watched:
    """One kind on the host, listed then watched: what it holds now, at the cost of its changes.

    The cold phase waits on hundreds of thousands of status changes; polling a Table of every
    domain each second would load the host API server (which the operator needs) far more than
    one watch stream does, and would skew the result against the operator.
    """

    def __init__(
        self,
        kube: Kube,
        kind: str,
        label_selector: str | None = None,
        *,
        judge: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> None:
        self.kube, self.kind, self.selector, self.judge = kube, kind, label_selector, judge
        self.passing: set[str] = set()  # names of the objects ``judge`` says yes to, as they are now
        self.events = 0
        self._task: asyncio.Task[None] | None = None

    def _keep(self, obj: dict[str, Any]) -> None:
        self.events += 1
        name = obj["metadata"]["name"]
        if self.judge(obj):
            self.passing.add(name)
        else:
            self.passing.discard(name)

    async def start(self) -> None:
        version = await self.kube.list_version(self.kind, self._keep, label_selector=self.selector)
        self._task = asyncio.create_task(self._follow(version))

    async def _follow(self, version: str) -> None:
        while True:
            events = self.kube.watch(self.kind, resource_version=version, label_selector=self.selector)
            async for type_, obj in events:
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if type_ == "DELETED":
                    self.passing.discard(obj["metadata"]["name"])
                elif type_ in ("ADDED", "MODIFIED"):
                    self._keep(obj)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def cold_convergence(
    shape: Shape, host: Kube, poller: Kube, *, interval: float, within: float, created: Callable[[], float]
) -> Cold:
    """Apply every domain, each domain's bindings as soon as the operator made its host
    namespace (as GitOps would on retry), and wait until every domain is Ready.

    Domains and host namespaces are followed by watches (see :class:`Watched`); once they say
    every domain is Ready, one ``kubectl get domains`` (a server-side Table) must agree, else
    waiting goes on. ``created()`` reads how many member objects the operator says it created
    (its own counter), which tells when the members were done, before the statuses said so."""
    start = time.monotonic()
    tenant_objects = sum(shape.objects_per_member(m) - 5 for m in shape.member_names())
    created_before = await asyncio.to_thread(created)
    members_seconds: float | None = None
    envs = shape.environment_names()
    spaces = Watched(poller, "Namespace", HOST_SELECTOR)
    domains = Watched(poller, names.KIND_DOMAIN, judge=lambda obj: _ready(_row(obj), shape))
    await asyncio.gather(spaces.start(), domains.start())
    domain_tasks = [asyncio.create_task(apply(host, shape.domain_doc(i))) for i in range(shape.domains)]
    binding_tasks: list[asyncio.Task[object]] = []
    fed: set[int] = set()
    inputs_seconds: float | None = None
    polls = made = seen = 0
    read_at = -1.0
    timeline: list[tuple[float, int, int, int, int]] = []
    try:
        while True:
            if len(fed) < shape.domains and spaces.events != seen:
                seen = spaces.events
                for i in range(shape.domains):
                    if i not in fed and f"domain-{shape.domain_name(i)}" in spaces.passing:
                        fed.add(i)
                        binding_tasks += [asyncio.create_task(apply(host, shape.binding_doc(i, e))) for e in envs]
            tasks = [*domain_tasks, *binding_tasks]
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise RuntimeError(f"applying the inputs failed: {task.exception()}")
            if inputs_seconds is None and len(fed) == shape.domains and all(t.done() for t in tasks):
                inputs_seconds = time.monotonic() - start
            ready = len(domains.passing)
            now = time.monotonic() - start
            if members_seconds is None and (now - read_at >= 1 or ready == shape.domains):
                made, read_at = int(await asyncio.to_thread(created) - created_before), now
                if made >= tenant_objects:
                    members_seconds = time.monotonic() - start
            if not timeline or now - timeline[-1][0] >= 5:
                done = [sum(1 for t in group if t.done()) for group in (domain_tasks, binding_tasks)]
                timeline.append((round(now, 1), done[0], done[1], made, ready))
            if inputs_seconds is not None and ready == shape.domains:
                polls += 1
                rows = await table(poller, DOMAINS_PATH)  # what `kubectl get domains` says
                if sum(1 for row in rows if _ready(row, shape)) == shape.domains:
                    return Cold(now, inputs_seconds, members_seconds or now, ready, polls, timeline)
            if time.monotonic() - start > within:
                raise TimeoutError(f"{ready}/{shape.domains} domains Ready after {within:.0f}s")
            await asyncio.sleep(interval)
    finally:
        for task in [*domain_tasks, *binding_tasks]:
            task.cancel()
        await asyncio.gather(*domain_tasks, *binding_tasks, return_exceptions=True)
        await asyncio.gather(spaces.stop(), domains.stop())


def requests(after: Scrape, before: Scrape) -> dict[str, int]:
    """What one API server served between two scrapes, as ``VERB resource[/subresource]`` -> count."""
    out = {}
    for (verb, resource, sub), count in sorted(delta(after, before).requests.items(), key=lambda kv: -kv[1]):
        out[f"{verb} {resource}{'/' + sub if sub else ''}"] = count
    return out


async def scrape(plane: BenchPlane, clusters: Sequence[str]) -> dict[str, Scrape]:
    texts = await asyncio.gather(*(asyncio.to_thread(plane.metrics, c) for c in clusters))
    return {c: parse(t) for c, t in zip(clusters, texts, strict=True)}


def _resources(cluster: str) -> frozenset[str]:
    return HOST_RESOURCES if cluster == "host" else MEMBER_RESOURCES


async def settle(plane: BenchPlane, clusters: Sequence[str], quiet: float, cap: float) -> float:
    """Wait until no cluster saw a write on bizdomain's resources for ``quiet`` seconds
    (status catching up, the controllers' follow-ups); give up after ``cap``. Seconds waited."""
    start = time.monotonic()
    before = await scrape(plane, clusters)
    while time.monotonic() - start < cap:
        await asyncio.sleep(quiet)
        after = await scrape(plane, clusters)
        if not any(raw_writes(delta(after[c], before[c]), _resources(c)) for c in clusters):
            break
        before = after
    return time.monotonic() - start


async def window(plane: BenchPlane, clusters: Sequence[str], seconds: float) -> dict[str, Scrape]:
    """What each API server counted over ``seconds`` of nothing changing."""
    before = await scrape(plane, clusters)
    await asyncio.sleep(seconds)
    after = await scrape(plane, clusters)
    return {c: delta(after[c], before[c]) for c in clusters}


def _pods(quota: dict[str, Any] | None) -> Decimal | None:
    hard = ((quota or {}).get("spec") or {}).get("hard") or {}
    return parse_quantity(hard["pods"]) if "pods" in hard else None


async def one_change(
    host: Kube, member: Kube, shape: Shape, *, i: int, environment: str, pods: str, within: float
) -> float:
    """Seconds from applying a new quota on one binding to the member's ResourceQuota holding it.

    The quota is watched on the member, so the moment is exact rather than a poll interval; a
    watch the server ends early (or with an ERROR event) is resumed from a fresh GET."""
    namespace = shape.namespace(i, 0, environment)
    want = parse_quantity(pods)
    start: float | None = None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        live = await member.get("ResourceQuota", names.QUOTA_NAME, namespace)
        if live is None:
            raise RuntimeError(f"no ResourceQuota in {namespace} on {member.cluster}")
        if start is not None and _pods(live) == want:
            return time.monotonic() - start
        query = {
            "watch": "true",
            "fieldSelector": f"metadata.name={names.QUOTA_NAME}",
            "resourceVersion": live["metadata"]["resourceVersion"],
            "timeoutSeconds": str(max(1, int(deadline - time.monotonic()))),
        }
        response = await member.send(
            "GET",
            f"/api/v1/namespaces/{namespace}/resourcequotas",
            query=query,
            limits=aiohttp.ClientTimeout(total=within + 10),
        )
        async with response:
            if response.status != 200:
                raise RuntimeError(f"watching {namespace}: {response.status}")
            if start is None:
                start = time.monotonic()
                await apply(host, shape.binding_doc(i, environment, quota={"pods": pods}))
            async for line in response.content:
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    break
                if event.get("type") in ("ADDED", "MODIFIED") and _pods(event.get("object")) == want:
                    return time.monotonic() - start
    raise TimeoutError(f"ResourceQuota in {namespace} did not get pods={pods} within {within:.0f}s")


async def change_latency(
    shape: Shape, host: Kube, members: dict[str, Kube], repeats: int, within: float = 300
) -> list[float]:
    """``repeats`` edits, one at a time, each of one binding among N (spread over domains and
    environments), each to a quota value it never had."""
    envs = shape.environment_names()
    out = []
    for r in range(repeats):
        i = (r * 7919 + shape.domains // 2) % shape.domains
        env = envs[r % len(envs)]
        member = shape.clusters_of(env)[0]
        pods = str(101 + r)
        try:
            out.append(await one_change(host, members[member], shape, i=i, environment=env, pods=pods, within=within))
        except TimeoutError:
            out.append(math.inf)  # never landed: a missed target, not a broken benchmark
    return out
