"""The runtime starts on startup but reads nothing of the host until kopf has filled its indexes."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bizdomain.plan import World
from bizdomain.runtime import Runtime
from unit import factories
from unit.factories import SETTINGS


def test_nothing_runs_before_the_indexes_are_filled() -> None:
    reads: list[int] = []

    def world() -> World:
        reads.append(1)
        return factories.world(members=[factories.member("dev")])

    async def test() -> None:
        runtime = Runtime(SETTINGS, cast(Any, None))
        runtime.start(world)
        runtime.start(world)  # once only
        for _ in range(20):
            await asyncio.sleep(0)
        assert reads == [], "no loop looked at the host"
        assert runtime.world() == World(), "a half-loaded host reads as empty"
        assert runtime.supervisor.workers == {}
        runtime.poke(domain="payments")  # a poke before that is harmless
        await runtime.stop()

    asyncio.run(test())


def test_a_stopped_runtime_that_never_ran_leaves_no_coroutine_behind() -> None:
    async def test() -> None:
        runtime = Runtime(SETTINGS, cast(Any, None))
        runtime.start(World)
        await asyncio.sleep(0)
        await runtime.stop()
        assert all(t.done() for t in runtime._tasks)

    asyncio.run(test())  # warnings are errors: a never-awaited coroutine would fail here
