"""One member cluster's worker: its two lanes, what is dirty, its view, its last pass and version.

Created and stopped by :class:`bizdomain.runtime.supervisor.Supervisor` as MemberClusters come
and go. A *full* lane re-syncs the whole member on the resync timer (and soon after a failure);
a *partial* lane syncs only the domains that changed, as they change, so a change never waits
behind a long full pass. A full pass leaves alone every domain that changed after it started
(the partial lane has the newer spec). The scheduling rules (:meth:`MemberWorker.poke`,
:meth:`MemberWorker.drifted`, :meth:`MemberWorker.pending`, :meth:`MemberWorker.take_dirty`) are
plain methods, unit-tested with a fake clock; one pass itself is :mod:`bizdomain.runtime.member_pass`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Callable

from bizdomain import metrics
from bizdomain.members import Kube
from bizdomain.report import ClusterReport
from bizdomain.runtime.member_pass import HostUnavailable, log_pass, run_pass
from bizdomain.runtime.passes import Pass, merge_pass, pass_failed, retry_delay
from bizdomain.runtime.shared import Shared, Skip
from bizdomain.sync.view import MemberView

log = logging.getLogger("bizdomain.runtime")

# The partial lane syncs at most this many domains per pass (a burst is split, so statuses follow it).
PARTIAL_LIMIT = 256


class MemberWorker:
    """Everything the operator runs and remembers for one member cluster."""

    def __init__(self, name: str, shared: Shared, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.shared = shared
        self._clock = clock
        self.wake = asyncio.Event()  # the partial lane: something is dirty
        self.full_wake = asyncio.Event()  # the full lane: run now
        self.dirty: set[str] | None = set()  # domains to sync (None: everything)
        self.touched: dict[str, float] = {}  # domain -> when it last changed (clock)
        self.inflight: set[str] = set()  # domains the partial lane is syncing
        self.view: MemberView | None = None  # what the operator knows of the member's objects
        self.last: Pass | None = None  # what its status reports
        self.version: str | None = None  # its Kubernetes version, as last probed
        self._task: asyncio.Task[None] | None = None

    # ---- scheduling ----------------------------------------------------------------------

    def poke(self, domain: str | None) -> None:
        """Something on the host changed: sync ``domain`` soon (None: everything)."""
        if domain is None or self.dirty is None:
            self.dirty = None
        else:
            self.dirty.add(domain)
            self.touched[domain] = self._clock()
        self.wake.set()

    def drifted(self, domain: str) -> None:
        """A watch saw one of ``domain``'s objects changed or deleted by someone else."""
        if self.dirty is None:
            return  # everything is synced soon anyway
        self.dirty.add(domain)
        self.touched[domain] = self._clock()
        self.wake.set()

    def pending(self, started: float) -> Skip:
        """Domains a full pass started at ``started`` leaves to the partial lane: changed since, or
        still waiting there (so a burst of new domains is synced once, not by both lanes)."""

        def left(domain: str) -> bool:
            dirty = self.dirty or ()
            return self.touched.get(domain, 0.0) > started or domain in dirty or domain in self.inflight

        return left

    def take_dirty(self) -> list[frozenset[str]] | None:
        """What the partial lane syncs now, in batches (None: everything, which is the full lane's)."""
        dirty, self.dirty = self.dirty, set()
        if dirty is None:
            return None
        ordered = sorted(dirty)
        self.inflight = set(ordered)
        return [frozenset(ordered[i : i + PARTIAL_LIMIT]) for i in range(0, len(ordered), PARTIAL_LIMIT)]

    # ---- lanes ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"bizdomain-member-{self.name}")

    def cancel(self) -> asyncio.Task[None] | None:
        """Stop the lanes (a pass in flight is cancelled); the task, to await if wanted."""
        if self._task is not None:
            self._task.cancel()
        return self._task

    async def release(self) -> None:
        """Let go of the member: its view's watches and its client."""
        if self.view is not None:
            await self.view.close()
            self.view = None
        await self.shared.clients.forget(self.name)

    async def _run(self) -> None:
        partial = asyncio.create_task(self._partial_lane(), name=f"bizdomain-member-{self.name}-partial")
        try:
            await self._full_lane()
        finally:
            partial.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await partial

    async def _full_lane(self) -> None:
        failures = 0
        settings = self.shared.settings
        while True:
            self.full_wake.clear()
            report = None
            try:
                report = await self.sync(None, skip=self.pending(self._clock()))
            except Exception:  # a bug must not kill the worker: log it, retry next round
                log.exception("cluster %s: sync pass crashed", self.name)
            self.shared.status_wake.set()
            failures = failures + 1 if pass_failed(report) else 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.full_wake.wait(), timeout=retry_delay(failures, settings.resync_seconds))
            await asyncio.sleep(settings.debounce_seconds)

    async def _partial_lane(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            await asyncio.sleep(self.shared.settings.debounce_seconds)
            batches = self.take_dirty()
            if batches is None:
                self.full_wake.set()
                continue
            for batch in batches:
                try:
                    await self.sync(batch)
                except Exception:
                    log.exception("cluster %s: partial pass crashed", self.name)
                    self.full_wake.set()
                self.inflight -= batch
                self.shared.status_wake.set()

    # ---- one pass ------------------------------------------------------------------------

    async def sync(self, scope: frozenset[str] | None = None, *, skip: Skip | None = None) -> ClusterReport | None:
        """One pass over the member (full, or partial over ``scope``); kept for status and deletions."""
        world = self.shared.world()
        member = world.members.get(self.name)
        if member is None:
            return None
        started = datetime.datetime.now(datetime.UTC)
        clock = time.monotonic()
        try:
            report = await run_pass(self, member, world, scope, skip)
        except HostUnavailable as exc:
            metrics.RECONCILES.labels(self.name, "error").inc()
            log.warning("cluster %s: pass skipped: %s", self.name, exc, extra={"cluster": self.name})
            return None
        elapsed = time.monotonic() - clock
        metrics.RECONCILE_SECONDS.labels(self.name).observe(elapsed)
        metrics.RECONCILES.labels(self.name, "success" if report.ok else "error").inc()
        metrics.MEMBER_REACHABLE.labels(self.name).set(1 if report.reachable else 0)
        log_pass(self.name, report, self.last.report if self.last else None, elapsed)
        self.record(report, started, scope)
        return report

    def record(self, report: ClusterReport, started: datetime.datetime, scope: frozenset[str] | None) -> None:
        """Keep what the pass did: for the next status round's Events, and merged into the last pass."""
        self.shared.status.remember(self.name, report)
        merged = merge_pass(self.last, report, started, scope, next(self.shared.seq))
        self.last = merged.last
        if merged.wants_full:
            self.full_wake.set()

    def view_for(self, kube: Kube) -> MemberView:
        """The member's view, started afresh when its client was rebuilt (rotated credentials)."""
        view = self.view
        if view is None or view.kube is not kube:
            if view is not None:
                asyncio.create_task(view.close())  # noqa: RUF006  (close() only cancels its watches)
            view = MemberView(kube, drift=self.drifted)
            self.view = view
        return view
