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


def test_a_runtime_stopped_before_its_tasks_ever_ran_leaves_no_coroutine_behind() -> None:
    """Startup then cleanup at once (a SIGTERM during startup): the loops' tasks were cancelled before
    they first ran, and the loop coroutines handed to them were never awaited."""

    async def test() -> None:
        runtime = Runtime(SETTINGS, cast(Any, None))
        runtime.start(World)
        runtime.loaded()
        await runtime.stop()

    asyncio.run(test())


class _Host:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, str, str | None]] = []

    async def delete(self, kind: str, name: str, namespace: str | None = None, *, uid: str | None = None) -> None:
        self.deleted.append((kind, name, uid))


def test_a_deleted_domain_takes_only_the_host_namespace_the_operator_made_for_it() -> None:
    payments, billing = factories.domain("payments"), factories.domain("billing")
    made = factories.host_namespace(payments)
    taken = factories.host_namespace(billing, labels={}, uid="someone-elses")  # made by someone else first
    world = factories.world([payments, billing], host_namespaces=[made, taken])
    host = _Host()

    class _Pinned(Runtime):
        def world(self) -> World:
            return world

    async def test() -> None:
        runtime = _Pinned(SETTINGS, cast(Any, host))
        await runtime.delete_host_namespace("payments")
        await runtime.delete_host_namespace("billing")
        await runtime.delete_host_namespace("gone")  # no such domain: nothing

    asyncio.run(test())
    assert host.deleted == [("Namespace", "domain-payments", made.uid)], "by uid, and only the operator's"
