"""The status writer: cluster reports in, statuses and Events on the host out (only what changed).

The runtime hands it every pass's report (:meth:`StatusWriter.remember`) and calls
:meth:`StatusWriter.write` at most once a second; the statuses themselves are computed by
the pure functions of :mod:`bizdomain.status`. A status equal to what the object holds, or
to what was just written and not yet seen back through the watch, is not written again, so
a steady state writes nothing; an Event is posted once per thing done or problem seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from bizdomain import metrics, names
from bizdomain.api.common import Condition, parse_quantity
from bizdomain.api.domain import BudgetUsage
from bizdomain.concurrency import each
from bizdomain.conditions import now, same_status
from bizdomain.config import Settings
from bizdomain.members import Kube, KubeError
from bizdomain.plan import BindingRecord, DomainRecord, MemberRecord, Problem, World, host_namespace_state, place
from bizdomain.plan.cluster import domain_for_namespace
from bizdomain.plan.host import HostNamespace
from bizdomain.report import ClusterReport, TenantOutcome
from bizdomain.status import member_status
from bizdomain.status.memo import StatusMemo

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]

ECHO_SECONDS = 10.0  # how long a status we wrote may take to come back through the watch
# A change of progress only (counts, messages; no condition flipped) waits this long after the
# object's last write: a burst of passes moves a domain from 0/2 to 1/2 to 2/2 clusters, and
# only the flips (Progressing, then Ready) need to be seen at once.
PROGRESS_SECONDS = 5.0
YIELD_EVERY = 200  # objects a round handles between two turns of the event loop
# After the host refuses a kind's status writes (403: the operator's RBAC lacks it), that kind is
# tried again after this long, doubling up to the cap: one refusal per kind and wait, not one per
# object and round.
REFUSED_SECONDS = (5.0, 20.0)


class StatusWriter:
    """Statuses of every BusinessDomain, EnvironmentBinding and MemberCluster, and Events."""

    def __init__(self, settings: Settings, kube: Kube) -> None:
        self.settings = settings
        self.kube = kube
        self._written: dict[tuple[str, str | None, str], tuple[dict[str, Any], float]] = {}
        self._events_seen: dict[tuple[str, str, str], str] = {}
        # What each pass did per tenant, kept until the next round turns it into Events.
        self._outcomes: dict[tuple[str, str], list[tuple[str, TenantOutcome]]] = {}
        self.deferred: float | None = None  # seconds until a write held back by the last round is due
        self._refused: dict[str, tuple[float, float]] = {}  # kind -> (monotonic time to try again, wait)
        self.memo = StatusMemo(settings)  # each status computed again only when its inputs moved

    def remember(self, cluster: str, report: ClusterReport) -> None:
        """Keep what a pass did (and what went wrong) for the next round's Events."""
        for key, o in report.tenants.items():
            if o.problems or o.errors or o.created or o.updated or o.corrected or o.pruned or o.released:
                self._outcomes.setdefault(key, []).append((cluster, o))

    async def write(self, world: World, reports: Mapping[str, ClusterReport], versions: Mapping[str, str]) -> None:
        """One round: every status that changed, and Events for what the passes since the last round did."""
        stale = time.monotonic() - ECHO_SECONDS
        self._written = {k: v for k, v in self._written.items() if v[1] > stale}  # echoes seen by now
        self.deferred = None
        pending, self._outcomes = self._outcomes, {}
        writes: list[Job] = []  # started a few at a time: most rounds change a handful of thousands
        per_domain: dict[str, list[tuple[BindingRecord, Any]]] = {}
        budget_figures: dict[metrics.BudgetLabels, metrics.BudgetFigures] = {}
        conflicts = self._host_conflicts(world)
        placement = place(world)
        for i, binding in enumerate(world.bindings.values()):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # thousands of statuses: let a change's pass run in between
            if domain_for_namespace(binding.namespace, self.settings) in conflicts:
                continue  # not the operator's namespace: nothing is written into it, not even status
            status, wire = self.memo.binding(binding, world, reports, placement)
            if status.domain:
                per_domain.setdefault(status.domain, []).append((binding, status))
            old = binding.status
            writes.append(partial(self._write, names.KIND_BINDING, binding.name, binding.namespace, old, wire))
            if binding.spec is not None and status.domain is not None:
                outcomes = pending.get((status.domain, binding.spec.environment), [])
                writes.extend(self._events_for(binding, status, outcomes))
            writes.extend(self._over_budget_event(binding, status.conditions))
            if status.domain is not None and status.budget is not None:
                budget_figures.update(budget_gauges(status.domain, status.budget))
        ready = {"True": 0, "False": 0}
        for i, domain in enumerate(world.domains.values()):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            conflict = conflicts.get(domain.name)
            dstatus, dwire = self.memo.domain(domain, per_domain.get(domain.name, []), conflict)
            seen = ("", domain.name, "host-namespace")
            if conflict is None:
                self._events_seen.pop(seen, None)
            elif self._events_seen.get(seen) != conflict:
                self._events_seen[seen] = conflict
                writes.append(partial(self.event, domain, "Warning", names.Reason.HOST_NAMESPACE_CONFLICT, conflict))
            ready["True" if dstatus.conditions[0].status == "True" else "False"] += 1
            writes.append(partial(self._write, names.KIND_DOMAIN, domain.name, None, domain.status, dwire))
            writes.extend(self._over_budget_event(domain, dstatus.conditions))
        for label, count in ready.items():
            metrics.DOMAINS.labels(label).set(count)
        metrics.BUDGETS.figures = budget_figures  # whole: a domain no longer budgeted has no series
        self.memo.keep_only(world)
        writes.extend(self._member_writes(world, reports, versions))
        await each(writes, lambda job: job(), self.settings.member_concurrency)

    def _member_writes(
        self, world: World, reports: Mapping[str, ClusterReport], versions: Mapping[str, str]
    ) -> list[Job]:
        """Every MemberCluster's status, and an Event when its readiness changed."""
        writes: list[Job] = []
        for member in world.members.values():
            last = reports.get(member.name)
            mstatus = member_status(member, last, versions.get(member.name))
            writes.append(partial(self._write, names.KIND_MEMBER, member.name, None, member.status, mstatus.to_wire()))
            cond = mstatus.conditions[0]
            seen = ("", member.name, "member-ready")
            if last is not None and self._events_seen.get(seen) != f"{cond.status}:{cond.message}":
                self._events_seen[seen] = f"{cond.status}:{cond.message}"
                type_ = "Normal" if cond.status == "True" else "Warning"
                writes.append(partial(self.event, member, type_, cond.reason, cond.message))
        return writes

    def _host_conflicts(self, world: World) -> dict[str, str]:
        """Domains whose host namespace someone else made: why, by domain name."""
        out: dict[str, str] = {}
        for domain in world.domains.values():
            verdict = host_namespace_state(domain, world, self.settings)
            if verdict.state is HostNamespace.CONFLICT:
                out[domain.name] = verdict.message
        return out

    async def _write(
        self, kind: str, name: str, namespace: str | None, old: Mapping[str, Any], new: dict[str, Any]
    ) -> None:
        if same_status(new, old):
            return
        key = (kind, namespace, name)
        written, clock = self._written.get(key), time.monotonic()
        if written is not None and written[0] == new and clock - written[1] < ECHO_SECONDS:
            return  # our own write, not yet seen back through the watch
        if written is not None and not _flipped(new, old) and clock - written[1] < PROGRESS_SECONDS:
            self._defer(written[1] + PROGRESS_SECONDS - clock)
            return
        refused = self._refused.get(kind)
        if refused is not None and clock < refused[0]:
            self._defer(refused[0] - clock)
            return
        body: dict[str, Any] = {
            "apiVersion": names.API_VERSION,
            "kind": kind,
            "metadata": {"name": name},
            "status": new,
        }
        if namespace:
            body["metadata"]["namespace"] = namespace
        try:
            await self.kube.apply(body, subresource="status")
        except KubeError as exc:
            if exc.status == 403:
                wait = min(refused[1] * 2, REFUSED_SECONDS[1]) if refused else REFUSED_SECONDS[0]
                self._refused[kind] = (time.monotonic() + wait, wait)
            if exc.status != 404:
                log.warning("status: writing %s %s failed: %s", kind, name, exc)
            return
        self._refused.pop(kind, None)
        metrics.STATUS_WRITES.labels(kind).inc()
        self._written[key] = (new, time.monotonic())

    def _defer(self, due: float) -> None:
        self.deferred = due if self.deferred is None else min(self.deferred, due)

    def _events_for(self, binding: BindingRecord, status: Any, outcomes: list[tuple[str, TenantOutcome]]) -> list[Job]:
        """Events for what the passes since the last round did to this binding's tenant, and new problems."""
        out: list[Job] = []
        for cluster, tenant in outcomes:
            for action, reason in (
                ("created", names.Reason.CREATED),
                ("updated", names.Reason.CREATED),
                ("corrected", names.Reason.CORRECTED),
                ("pruned", names.Reason.PRUNED),
                ("released", names.Reason.RELEASED),
            ):
                items = getattr(tenant, action)
                if items:
                    shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
                    out.append(
                        partial(self.event, binding, "Normal", reason, f"{action} on cluster {cluster}: {shown}")
                    )
            for problem in [*tenant.problems, *(_sync_failed(e) for e in tenant.errors)]:
                seen = (binding.namespace, binding.name, f"{cluster}:{problem.reason}")
                if self._events_seen.get(seen) != problem.message:
                    self._events_seen[seen] = problem.message
                    message = f"cluster {cluster}: {problem.message}"
                    out.append(partial(self.event, binding, "Warning", problem.reason, message))
        return out

    def _over_budget_event(self, record: BindingRecord | DomainRecord, conditions: list[Condition]) -> list[Job]:
        """A Warning Event when usage passes a budget (once per message), a Normal one when it is back."""
        cond = next((c for c in conditions if c.type == names.COND_OVER_BUDGET), None)
        seen = (getattr(record, "namespace", ""), record.name, names.COND_OVER_BUDGET)
        last = self._events_seen.get(seen)
        if cond is None or (cond.status == "False" and last is None) or last == f"{cond.status}:{cond.message}":
            return []
        self._events_seen[seen] = f"{cond.status}:{cond.message}"
        if cond.status == "True":
            return [partial(self.event, record, "Warning", names.Reason.OVER_BUDGET, cond.message)]
        return [partial(self.event, record, "Normal", names.Reason.WITHIN_BUDGET, "usage is within the budget again")]

    async def event(
        self, record: BindingRecord | DomainRecord | MemberRecord, type_: str, reason: str, message: str
    ) -> None:
        """Post a core/v1 Event about a host object (cluster-scoped ones in the operator's namespace)."""
        involved = {"apiVersion": names.API_VERSION, "name": record.name, "uid": record.uid}
        if isinstance(record, BindingRecord):
            involved.update(kind=names.KIND_BINDING, namespace=record.namespace)
            namespace = record.namespace
        else:  # cluster-scoped: the API server wants such Events in "default" (as kubectl describe finds them)
            involved["kind"] = names.KIND_DOMAIN if isinstance(record, DomainRecord) else names.KIND_MEMBER
            namespace = "default"
        await post_event(
            self.kube, involved, namespace=namespace, name=record.name, type_=type_, reason=reason, message=message
        )


async def post_event(
    kube: Kube, involved: dict[str, Any], *, namespace: str, name: str, type_: str, reason: str, message: str
) -> None:
    """Post one core/v1 Event about ``involved`` in ``namespace``; a failure is logged, never raised."""
    stamp = now()
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": involved,
        "type": type_,
        "reason": reason,
        "message": message[:1000],
        "source": {"component": "bizdomain"},
        "reportingComponent": "bizdomain.io/operator",
        "reportingInstance": "bizdomain",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        await kube.request("POST", f"/api/v1/namespaces/{namespace}/events", body=body)
    except KubeError as exc:
        log.warning("posting event %s on %s failed: %s", reason, name, exc)


def _sync_failed(error: str) -> Problem:
    return Problem(names.Reason.SYNC_FAILED, error)


def _flipped(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether ``new`` is more than progress over ``old``: a new generation, or a condition flipped."""

    def conditions(status: Mapping[str, Any]) -> list[tuple[Any, Any, Any]]:
        return [(c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []]

    return new.get("observedGeneration") != old.get("observedGeneration") or conditions(new) != conditions(old)


def budget_gauges(domain: str, entry: BudgetUsage) -> dict[metrics.BudgetLabels, metrics.BudgetFigures]:
    """The budget gauges' figures of one domain x environment (hard, allocated, used per resource)."""
    return {
        (domain, entry.environment, resource): (
            _gauge_value(hard),
            _gauge_value(entry.allocated.get(resource, "0")),
            _gauge_value(entry.used.get(resource, "0")),
        )
        for resource, hard in entry.hard.items()
    }


def _gauge_value(quantity: str) -> float:
    return float(parse_quantity(quantity))
