"""The running operator: one worker per member cluster, a host worker and the status loop.

kopf watches the host and keeps indexes of every BusinessDomain, EnvironmentBinding and
MemberCluster. :func:`bizdomain.handlers.on_startup` creates the :class:`Runtime` and starts it;
its loops wait until kopf has filled the indexes (the first handler says so with
:meth:`Runtime.loaded`), so nothing is ever planned, let alone pruned, from a half-loaded view.
The handlers then only poke it. The :class:`~bizdomain.runtime.supervisor.Supervisor` keeps one
:class:`~bizdomain.runtime.worker.MemberWorker` per member, so a slow or dead member never holds
up the others, and each re-syncs on a timer as well as on change (level-based). What each
member's passes add up to is :mod:`bizdomain.runtime.passes` (pure); statuses and Events are
written by :mod:`bizdomain.reporting`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any

from bizdomain.config import Settings
from bizdomain.members import Kube, KubeError, MemberClients
from bizdomain.plan import TenantMemo, World, desired_host, host_namespace_state
from bizdomain.plan.host import quarantine
from bizdomain.plan.kept import Kept, merge_kept
from bizdomain.records import ChangeFilter, SpecCache
from bizdomain.reporting import StatusWriter
from bizdomain.runtime.passes import Pass, cleanup_state
from bizdomain.runtime.shared import Shared
from bizdomain.runtime.supervisor import Supervisor
from bizdomain.runtime.worker import MemberWorker
from bizdomain.sync.host import sync_host

__all__ = ["Runtime", "WorldSource", "world_from_indexes"]

log = logging.getLogger("bizdomain.runtime")

WorldSource = Callable[[], World]
STATUS_INTERVAL = 1.0


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
    """Shared by every handler through kopf's memo; owns the workers, the loops and the caches."""

    def __init__(self, settings: Settings, host: Kube, status_host: Kube | None = None) -> None:
        self.settings = settings
        self.host = host
        # Status writes and Events get a client of their own, so that thousands of them never
        # queue the host namespaces (and Secret reads) behind them.
        self.status_host = status_host or host
        self.clients = MemberClients(host, settings)
        self.status = StatusWriter(settings, self.status_host)
        # The runtime's caches, each an object of its own, passed to whoever uses it.
        self.specs = SpecCache()  # parsed specs, for the index handlers
        self.changes = ChangeFilter()  # what each host object last looked like, for the event handlers
        self.planned = TenantMemo()  # tenants already planned, for plan_cluster
        self._world: WorldSource | None = None
        self._kept_stamp: tuple[tuple[str, int], ...] = ()
        self._kept_cache: dict[tuple[str, str], tuple[Kept, ...]] = {}
        self._loaded = asyncio.Event()
        self._status_wake = asyncio.Event()
        self._host_wake = asyncio.Event()
        self._shared = Shared(
            settings, self.clients, self.world, self.planned, self.status, self._status_wake, itertools.count(1)
        )
        self.supervisor = Supervisor(lambda name: MemberWorker(name, self._shared), self._live_members)
        self._tasks: list[asyncio.Task[None]] = []

    # ---- wiring -------------------------------------------------------------------------

    def start(self, world: WorldSource) -> None:
        """Start the background loops (once, on startup); they run from when :meth:`loaded` is called."""
        if self._tasks:
            return
        self._world = world
        self._tasks = [
            asyncio.create_task(self._when_loaded(self.supervisor.run), name="bizdomain-coordinator"),
            asyncio.create_task(self._when_loaded(self._status_loop), name="bizdomain-status"),
            asyncio.create_task(self._when_loaded(self._host_loop), name="bizdomain-host"),
        ]

    def loaded(self) -> None:
        """kopf has filled the indexes (it runs no resource handler before): the loops may start."""
        self._loaded.set()

    async def _when_loaded(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await self._loaded.wait()
        await loop()  # made only now: a runtime stopped before its tasks ever ran leaves no coroutine behind

    def world(self) -> World:
        """What the host holds now; bindings in a host namespace the operator did not make are frozen."""
        if self._world is None or not self._loaded.is_set():
            return World()
        world = quarantine(self._world(), self.settings)
        kept = self._kept()
        return replace(world, kept=kept) if kept else world

    def _kept(self) -> dict[tuple[str, str], tuple[Kept, ...]]:
        """The quotas every member's last pass saw the budgeted domains' namespaces hold (plan.kept)."""
        passes = self.passes
        stamp = tuple(sorted((name, p.seq) for name, p in passes.items()))
        if stamp != self._kept_stamp:
            self._kept_stamp, self._kept_cache = stamp, merge_kept(p.report.kept for p in passes.values())
        return self._kept_cache

    def _live_members(self) -> set[str]:
        return {name for name, m in self.world().members.items() if not m.deleting}

    def poke(self, *, domain: str | None = None, members_changed: bool = False) -> None:
        """Something on the host changed: every worker syncs soon (only ``domain``, when given)."""
        self.supervisor.poke(domain)
        self._host_wake.set()
        self._status_wake.set()
        if members_changed:
            self.supervisor.members_changed()

    @property
    def passes(self) -> dict[str, Pass]:
        """Each member's last pass, as its status reports it."""
        return {name: w.last for name, w in self.supervisor.workers.items() if w.last is not None}

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.supervisor.stop()
        await self.clients.close()
        if self.status_host is not self.host:
            await self.status_host.close()

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
        return cleanup_state(self.passes, self.world().members.values(), domain, environment, since)

    async def delete_host_namespace(self, domain: str) -> None:
        """Delete a deleted domain's host namespace, only if the operator made it for this domain (by
        uid); raise KubeError when the host refuses (the finalizer tries again)."""
        world = self.world()
        record, namespace = world.domains.get(domain), self.settings.domain_namespace(domain)
        live = world.host_namespaces.get(namespace)
        if record is None or live is None:
            return
        if not host_namespace_state(record, world, self.settings).trusted:
            if not live.deleting:
                log.warning("domain %s: host namespace %s is not the operator's; left untouched", domain, namespace)
            return
        await self.host.delete("Namespace", namespace, uid=live.uid or None)

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
                workers = self.supervisor.workers
                reports = {name: p.report for name, p in self.passes.items()}
                versions = {name: w.version for name, w in workers.items() if w.version is not None}
                await self.status.write(self.world(), reports, versions)
                if self.status.deferred is not None:  # progress held back: come back when it is due
                    asyncio.get_running_loop().call_later(self.status.deferred, self._status_wake.set)
            except Exception:
                log.exception("status: writing statuses crashed")
