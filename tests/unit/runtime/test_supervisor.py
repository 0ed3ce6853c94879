"""The supervisor keeps exactly one worker per live member: started as one appears, stopped as it goes."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bizdomain.runtime.supervisor import Supervisor
from bizdomain.runtime.worker import MemberWorker


class Worker:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.pokes: list[str | None] = []

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def cancel(self) -> None:
        self.log.append(f"cancel {self.name}")

    async def release(self) -> None:
        self.log.append(f"release {self.name}")

    def poke(self, domain: str | None) -> None:
        self.pokes.append(domain)


def test_workers_follow_the_members() -> None:
    log: list[str] = []
    members = {"dev", "prod"}
    supervisor = Supervisor(lambda name: cast(MemberWorker, Worker(name, log)), lambda: set(members))

    async def test() -> None:
        await supervisor.reconcile()
        assert log == ["start dev", "start prod"]
        await supervisor.reconcile()
        assert log == ["start dev", "start prod"], "one worker per member, never two"
        members.discard("dev")
        members.add("qa")
        await supervisor.reconcile()
        assert log[2:] == ["start qa", "cancel dev", "release dev"]
        assert set(supervisor.workers) == {"prod", "qa"}

    asyncio.run(test())


def test_pokes_reach_every_worker() -> None:
    log: list[str] = []
    supervisor = Supervisor(lambda name: cast(MemberWorker, Worker(name, log)), lambda: {"dev", "prod"})
    asyncio.run(supervisor.reconcile())
    supervisor.poke("payments")
    supervisor.poke(None)
    workers: list[Any] = list(supervisor.workers.values())
    assert all(w.pokes == ["payments", None] for w in workers)
