"""The running operator: one worker per member cluster, a host worker and the status loop.

kopf watches the host and keeps indexes of every BusinessDomain, EnvironmentBinding and
MemberCluster (populated before any handler runs, so nothing is ever pruned from a
half-loaded view). The handlers only poke this runtime; the workers read the indexes,
plan, and sync. Each member is synced by its own task, so a slow or dead member never
holds up the others, and every worker re-syncs on a timer as well as on change, so a
missed event or a hand edit on a member converges anyway (level-based). Each member's
objects are known from its watch-fed view (:mod:`bizdomain.sync.view`); statuses and Events
are written by :mod:`bizdomain.reporting`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bizdomain import metrics, names
from bizdomain.config import Settings
from bizdomain.members import CredentialsError, Kube, KubeError, MemberClients
from bizdomain.plan import MemberRecord, World, desired_host, plan_cluster
from bizdomain.plan.host import quarantine
from bizdomain.reporting import StatusWriter
from bizdomain.sync import ClusterReport, sync_cluster
from bizdomain.sync.host import sync_host
from bizdomain.sync.view import MemberView

log = logging.getLogger(__name__)

WorldSource = Callable[[], World]
# The partial lane syncs at most this many domains per pass (a burst is split, so statuses follow it).
PARTIAL_LIMIT = 256
STATUS_INTERVAL = 1.0


@dataclass
class Pass:
    """A cluster report with when its pass started (wall clock) and its sequence number."""

    report: ClusterReport
    started: datetime.datetime  # when the last *full* pass started
    seq: int
    covered: dict[str, datetime.datetime] = field(default_factory=dict)  # domain -> newest partial pass
    skipped: frozenset[str] = frozenset()  # domains the full pass left to the partial lane

    def synced_since(self, domain: str, since: datetime.datetime) -> bool:
        partial = self.covered.get(domain)
        full = self.started >= since and domain not in self.skipped
        return full or (partial is not None and partial >= since)


def world_from_indexes(indexes: Mapping[str, Any]) -> World:
    """A World from kopf's indexes (each key maps to a store holding one record)."""

    def first(index: Any) -> dict[Any, Any]:
        return {key: next(iter(store)) for key, store in index.items() if len(store)}

    return World(
        domains=first(indexes["domain_index"]),
        bindings=first(indexes["binding_index"]),
        members=first(indexes["member_index"]),
        host_namespaces=first(indexes["host_namespace_index"]) if "host_namespace_index" in indexes else {},
        sandboxes=first(indexes["sandbox_index"]) if "sandbox_index" in indexes else {},
    )


class Runtime:
    """Shared by every handler through kopf's memo."""

    def __init__(self, settings: Settings, host: Kube, status_host: Kube | None = None) -> None:
        self.settings = settings
        self.host = host
        # Status writes and Events get a client of their own, so that thousands of them never
        # queue the host namespaces (and Secret reads) behind them.
        self.status_host = status_host or host
        self.clients = MemberClients(host, settings)
        self.views: dict[str, MemberView] = {}  # member -> what the operator knows of its objects
        self.passes: dict[str, Pass] = {}
        self.versions: dict[str, str] = {}
        self._world: WorldSource | None = None
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._dirty: dict[str, set[str] | None] = {}  # cluster -> domains to sync (None: everything)
        self._touched: dict[str, dict[str, float]] = {}  # cluster -> domain -> when it last changed
        self._inflight: dict[str, set[str]] = {}  # cluster -> domains its partial lane is syncing
        self._full_wake: dict[str, asyncio.Event] = {}
        self._status_wake = asyncio.Event()
        self._host_wake = asyncio.Event()
        self._members_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = itertools.count(1)
        self.status = StatusWriter(settings, self.status_host)

    # ---- wiring -------------------------------------------------------------------------

    def attach(self, world: WorldSource) -> None:
        """Start the background tasks, once, when the first handler brings the indexes."""
        if self._world is not None:
            return
        self._world = world
        self._tasks = [
            asyncio.create_task(self._coordinator(), name="bizdomain-coordinator"),
            asyncio.create_task(self._status_loop(), name="bizdomain-status"),
            asyncio.create_task(self._host_loop(), name="bizdomain-host"),
        ]

    def world(self) -> World:
        """What the host holds now; bindings in a host namespace the operator did not make are frozen."""
        return quarantine(self._world(), self.settings) if self._world else World()

    def poke(self, *, domain: str | None = None, members_changed: bool = False) -> None:
        """Something on the host changed: every worker syncs soon (only ``domain``, when given)."""
        now = time.monotonic()
        for cluster, event in self._wake.items():
            dirty = self._dirty.get(cluster, set())
            if domain is None or dirty is None:
                self._dirty[cluster] = None
            else:
                dirty.add(domain)
                self._dirty[cluster] = dirty
                self._touched[cluster][domain] = now
            event.set()
        self._host_wake.set()
        self._status_wake.set()
        if members_changed:
            self._members_changed.set()

    def _drifted(self, cluster: str, domain: str) -> None:
        """A watch saw one of ``domain``'s objects on ``cluster`` changed or deleted by someone else."""
        dirty = self._dirty.get(cluster, set())
        if dirty is None or cluster not in self._wake:
            return
        dirty.add(domain)
        self._dirty[cluster] = dirty
        self._touched[cluster][domain] = time.monotonic()
        self._wake[cluster].set()

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._workers.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for view in self.views.values():
            await view.close()
        await self.clients.close()
        if self.status_host is not self.host:
            await self.status_host.close()

    # ---- member workers ------------------------------------------------------------------

    async def _coordinator(self) -> None:
        """Keep exactly one worker per live MemberCluster."""
        while True:
            members = {name for name, m in self.world().members.items() if not m.deleting}
            for name in members - self._workers.keys():
                self._wake[name] = asyncio.Event()
                self._full_wake[name] = asyncio.Event()
                self._dirty[name] = set()
                self._touched[name] = {}
                self._workers[name] = asyncio.create_task(self._worker(name), name=f"bizdomain-member-{name}")
            for name in self._workers.keys() - members:
                self._workers.pop(name).cancel()
                self._wake.pop(name, None)
                self._dirty.pop(name, None)
                self._touched.pop(name, None)
                self._inflight.pop(name, None)
                self._full_wake.pop(name, None)
                self.passes.pop(name, None)
                view = self.views.pop(name, None)
                if view is not None:
                    await view.close()
                await self.clients.forget(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._members_changed.wait(), timeout=5)
            self._members_changed.clear()

    async def _worker(self, name: str) -> None:
        """Two lanes per member: full passes on the resync timer, partial ones as domains change.

        The lanes run side by side, so a change never waits behind a long full pass; a full
        pass leaves alone every domain that changed after it started (the partial lane has
        the newer spec and syncs it).
        """
        fast = asyncio.create_task(self._partial_lane(name), name=f"bizdomain-member-{name}-partial")
        try:
            await self._full_lane(name)
        finally:
            fast.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fast

    async def _full_lane(self, name: str) -> None:
        failures = 0
        wake = self._full_wake[name]
        while True:
            wake.clear()
            report = None
            try:
                report = await self.sync_member(name, None, skip=self._changed_since(name, time.monotonic()))
            except Exception:  # a bug must not kill the worker: log it, retry next round
                log.exception("cluster %s: sync pass crashed", name)
            self._status_wake.set()
            failed = report is None or not report.ok or any(not t.ok for t in report.tenants.values())
            failures = failures + 1 if failed else 0
            # After a failure retry soon (1s, 2s, 4s, ... up to the resync interval).
            delay = min(self.settings.resync_seconds, 2 ** (failures - 1)) if failures else self.settings.resync_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=delay)
            await asyncio.sleep(self.settings.debounce_seconds)

    def _changed_since(self, name: str, started: float) -> Callable[[str], bool]:
        """Domains a full pass leaves to the partial lane: changed since it started, or still
        waiting there (so a burst of new domains is synced once, not by both lanes)."""
        touched = self._touched[name]

        def pending(domain: str) -> bool:
            dirty = self._dirty.get(name) or ()
            return touched.get(domain, 0.0) > started or domain in dirty or domain in self._inflight.get(name, ())

        return pending

    async def _partial_lane(self, name: str) -> None:
        wake = self._wake[name]
        while True:
            await wake.wait()
            wake.clear()
            await asyncio.sleep(self.settings.debounce_seconds)
            dirty = self._dirty.get(name)
            self._dirty[name] = set()
            if dirty is None:
                self._full_wake[name].set()
                continue
            ordered = sorted(dirty)
            self._inflight[name] = set(ordered)
            for i in range(0, len(ordered), PARTIAL_LIMIT):
                try:
                    await self.sync_member(name, frozenset(ordered[i : i + PARTIAL_LIMIT]))
                except Exception:
                    log.exception("cluster %s: partial pass crashed", name)
                    self._full_wake[name].set()
                self._inflight[name] -= set(ordered[i : i + PARTIAL_LIMIT])
                self._status_wake.set()

    async def sync_member(
        self, name: str, scope: frozenset[str] | None = None, *, skip: Callable[[str], bool] | None = None
    ) -> ClusterReport | None:
        """One pass over one member (full, or partial over ``scope``); kept for status and deletions."""
        world = self.world()
        member = world.members.get(name)
        if member is None:
            return None
        started = datetime.datetime.now(datetime.UTC)
        clock = time.monotonic()
        try:
            report = await self._pass(member, world, scope, skip)
        except HostUnavailable as exc:
            metrics.RECONCILES.labels(name, "error").inc()
            log.warning("cluster %s: pass skipped: %s", name, exc, extra={"cluster": name})
            return None
        elapsed = time.monotonic() - clock
        metrics.RECONCILE_SECONDS.labels(name).observe(elapsed)
        metrics.RECONCILES.labels(name, "success" if report.ok else "error").inc()
        reachable = report.reason not in (names.Reason.CLUSTER_UNREACHABLE, names.Reason.CREDENTIALS_INVALID)
        metrics.MEMBER_REACHABLE.labels(name).set(1 if reachable else 0)
        previous = self.passes.get(name)
        if previous is None or previous.report.ok != report.ok or previous.report.reason != report.reason:
            level = logging.INFO if report.ok else logging.WARNING
            log.log(level, "cluster %s: %s %s", name, report.reason, report.message, extra={"cluster": name})
        for (domain, environment), tenant in report.tenants.items():
            changes = {a: len(getattr(tenant, a)) for a in ("created", "updated", "corrected", "pruned", "released")}
            if any(changes.values()):
                done = ", ".join(f"{a} {n}" for a, n in changes.items() if n)
                log.info(
                    "cluster %s: %s/%s: %s",
                    name,
                    domain,
                    environment,
                    done,
                    extra={"cluster": name, "domain": domain, "environment": environment},
                )
        log.debug("cluster %s: pass took %.3fs, %d writes", name, elapsed, report.writes, extra={"cluster": name})
        self._record(name, report, started, scope)
        return report

    def _record(
        self, name: str, report: ClusterReport, started: datetime.datetime, scope: frozenset[str] | None
    ) -> None:
        """Keep a full pass as is; merge a partial one into the last full pass's report."""
        self.status.remember(name, report)
        previous = self.passes.get(name)
        if scope is None and report.skipped and previous is not None and report.ok and previous.report.ok:
            # Domains that changed during this full pass were left to the partial lane: keep theirs.
            old = previous.report
            report.tenants.update({k: v for k, v in old.tenants.items() if k[0] in report.skipped})
            report.leftovers |= {k for k in old.leftovers if k[0] in report.skipped}
            covered = {d: t for d, t in previous.covered.items() if d in report.skipped}
            self.passes[name] = Pass(report, started, next(self._seq), covered, frozenset(report.skipped))
            return
        if scope is None or previous is None or not report.ok or not previous.report.ok:
            self.passes[name] = Pass(report, started, next(self._seq), skipped=frozenset(report.skipped))
            if scope is not None:
                self._full_wake[name].set()  # a partial pass is no baseline: do a full one now
            return
        old = previous.report
        merged = ClusterReport(
            name,
            ok=True,
            reason=old.reason,
            message=old.message,
            tenants={**{k: v for k, v in old.tenants.items() if k[0] not in scope}, **report.tenants},
            leftovers={k for k in old.leftovers if k[0] not in scope} | report.leftovers,
            writes=report.writes,
        )
        covered = {**previous.covered, **dict.fromkeys(scope, started)}
        self.passes[name] = Pass(merged, previous.started, next(self._seq), covered, previous.skipped - scope)

    async def _pass(
        self, member: MemberRecord, world: World, scope: frozenset[str] | None, skip: Callable[[str], bool] | None
    ) -> ClusterReport:
        if member.spec is None:
            return ClusterReport(member.name, ok=False, reason=names.Reason.INVALID_SPEC, message=member.error or "")
        ref = member.spec.kubeconfig_secret_ref
        secret = f"Secret {self.settings.namespace}/{ref.name}"
        try:
            kube = await self.clients.client(member.name, ref.name, ref.key)
        except CredentialsError as exc:
            return ClusterReport(member.name, ok=False, reason=names.Reason.CREDENTIALS_INVALID, message=str(exc))
        except KubeError as exc:  # the host did not answer: no verdict on the member
            raise HostUnavailable(f"cannot read {secret} from the host: {exc}") from exc
        previous = self.passes.get(member.name)
        if member.name not in self.versions or previous is None or not previous.report.ok:
            try:
                self.versions[member.name] = await kube.version()
            except KubeError as exc:
                if exc.status in (401, 403):
                    reason, message = names.Reason.CREDENTIALS_INVALID, _refused(secret, exc)
                    return ClusterReport(member.name, ok=False, reason=reason, message=message)
                reason = names.Reason.CLUSTER_UNREACHABLE if exc.unreachable else names.Reason.SYNC_FAILED
                return ClusterReport(
                    member.name, ok=False, reason=reason, message=f"cannot reach the API server: {exc}"
                )
        view = self._view(member.name, kube)
        if not view.planned:
            scope, skip = None, None  # the view is judged against a whole plan: the first pass is full
        plan = plan_cluster(member, world, self.settings, scope)
        report = await sync_cluster(kube, plan, self.settings, scope=scope, skip=skip, view=view)
        if report.reason == names.Reason.CREDENTIALS_INVALID:
            report.message = f"{_refused(secret, None)}: {report.message}"
        return report

    def _view(self, name: str, kube: Kube) -> MemberView:
        """The member's view, started afresh when its client was rebuilt (rotated credentials)."""
        view = self.views.get(name)
        if view is None or view.kube is not kube:
            if view is not None:
                asyncio.create_task(view.close())  # noqa: RUF006  (close() only cancels its watches)
            view = MemberView(kube, drift=lambda domain: self._drifted(name, domain))
            self.views[name] = view
        return view

    # ---- host footprint ------------------------------------------------------------------

    async def _host_loop(self) -> None:
        while True:
            self._host_wake.clear()
            world = self.world()
            try:
                await sync_host(self.host, desired_host(world, self.settings))
            except KubeError as exc:
                log.warning("host: syncing domain namespaces failed: %s", exc)
            except Exception:
                log.exception("host: sync crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._host_wake.wait(), timeout=self.settings.resync_seconds)
            await asyncio.sleep(self.settings.debounce_seconds)

    # ---- deletion ------------------------------------------------------------------------

    def cleanup_state(self, domain: str, environment: str | None, since: datetime.datetime) -> tuple[bool, list[str]]:
        """Whether every member has been synced since ``since`` with nothing of the tenant left.

        Returns (done, clusters that block it because their last pass failed).
        """
        done, blocked = True, []
        for name, member in self.world().members.items():
            if member.deleting:
                continue
            last = self.passes.get(name)
            if last is None or not last.synced_since(domain, since):
                done = False
                continue
            if not last.report.ok:
                done = False
                blocked.append(name)
                continue
            if any(d == domain and environment in (None, e) for d, e in last.report.leftovers):
                done = False
        return done, blocked

    # ---- status --------------------------------------------------------------------------

    async def _status_loop(self) -> None:
        last = -STATUS_INTERVAL
        while True:
            await self._status_wake.wait()
            self._status_wake.clear()
            # At most one round a second: a burst of passes is summed up once, not once per pass;
            # the first change after a quiet second is written after the debounce alone.
            await asyncio.sleep(max(self.settings.debounce_seconds, last + STATUS_INTERVAL - time.monotonic()))
            last = time.monotonic()
            try:
                reports = {name: p.report for name, p in self.passes.items()}
                await self.status.write(self.world(), reports, self.versions)
                if self.status.deferred is not None:  # progress held back: come back when it is due
                    asyncio.get_running_loop().call_later(self.status.deferred, self._status_wake.set)
            except Exception:
                log.exception("status: writing statuses crashed")


class HostUnavailable(Exception):
    """The host API server did not answer: a pass cannot run, and says nothing about the member."""


def _refused(secret: str, exc: KubeError | None) -> str:
    code = f" ({exc.status} {exc.reason})" if exc is not None else ""
    return f"the member API server refused the credentials in {secret}{code}; rotate them with `bizdomain join`"
