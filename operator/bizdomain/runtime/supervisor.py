"""Exactly one worker per live MemberCluster: started when one appears, stopped when it goes.

Owned by :class:`bizdomain.runtime.Runtime`, which hands it a factory of workers and the
names of the live members; it knows nothing else about them. A change of MemberClusters
wakes it at once (:meth:`Supervisor.members_changed`); it also looks every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bizdomain.runtime.worker import MemberWorker

LOOK_SECONDS = 5.0


class Supervisor:
    """Starts and stops member workers; hands pokes on to every one."""

    def __init__(self, make: Callable[[str], MemberWorker], members: Callable[[], set[str]]) -> None:
        self._make = make
        self._members = members
        self.workers: dict[str, MemberWorker] = {}
        self._changed = asyncio.Event()

    def members_changed(self) -> None:
        self._changed.set()

    def poke(self, domain: str | None) -> None:
        """Every worker syncs ``domain`` soon (None: everything)."""
        for worker in self.workers.values():
            worker.poke(domain)

    async def reconcile(self) -> None:
        """Start a worker for each new member; stop (and forget) the one of each member gone."""
        live = self._members()
        for name in sorted(live - self.workers.keys()):
            worker = self._make(name)
            self.workers[name] = worker
            worker.start()
        for name in sorted(self.workers.keys() - live):
            worker = self.workers.pop(name)
            worker.cancel()
            await worker.release()

    async def run(self) -> None:
        while True:
            await self.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=LOOK_SECONDS)
            self._changed.clear()

    async def stop(self) -> None:
        """Stop every worker and wait for it; then let go of every member."""
        tasks = [t for w in self.workers.values() if (t := w.cancel()) is not None]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for worker in self.workers.values():
            await worker.release()
