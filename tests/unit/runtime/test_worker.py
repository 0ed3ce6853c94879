"""A member worker's scheduling: what is dirty, what a full pass leaves to the partial lane, the lanes.

The pass itself is faked (``sync`` records what it was asked); so is the clock. Nothing here
talks to an API server: what a pass does on a member is tested against real ones elsewhere.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
from collections.abc import Callable, Coroutine
from typing import Any, cast

from bizdomain.config import Settings
from bizdomain.plan import TenantMemo, World
from bizdomain.report import ClusterReport
from bizdomain.reporting import StatusWriter
from bizdomain.runtime.shared import Shared, Skip
from bizdomain.runtime.worker import PARTIAL_LIMIT, MemberWorker

DEADLINE = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Clients:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def forget(self, name: str) -> None:
        self.forgotten.append(name)


def shared(**settings: Any) -> Shared:
    config = Settings(**{"debounce_seconds": 0, **settings})
    return Shared(
        settings=config,
        clients=cast(Any, Clients()),
        world=World,
        planned=TenantMemo(),
        status=StatusWriter(config, cast(Any, None)),
        status_wake=asyncio.Event(),
        seq=itertools.count(1),
    )


def worker(clock: Clock | None = None) -> MemberWorker:
    return MemberWorker("dev", shared(), clock=clock or Clock())


# --- scheduling decisions ---------------------------------------------------------------------------


def test_a_poke_for_a_domain_marks_it_dirty_and_when() -> None:
    clock = Clock()
    w = worker(clock)
    w.poke("payments")
    assert w.dirty == {"payments"}
    assert w.touched == {"payments": 100.0}
    assert w.wake.is_set()


def test_a_poke_for_everything_wins_over_domains() -> None:
    w = worker()
    w.poke("payments")
    w.poke(None)
    w.poke("dispatch")
    assert w.dirty is None
    assert w.take_dirty() is None, "everything is the full lane's"
    assert w.dirty == set()


def test_drift_marks_its_domain_unless_everything_is_due_anyway() -> None:
    clock = Clock()
    w = worker(clock)
    w.drifted("payments")
    assert w.dirty == {"payments"}
    assert w.wake.is_set()
    w.poke(None)
    w.wake.clear()
    w.drifted("dispatch")
    assert w.dirty is None
    assert not w.wake.is_set()


def test_a_full_pass_leaves_what_changed_after_it_started_or_waits_in_the_partial_lane() -> None:
    clock = Clock()
    w = worker(clock)
    w.poke("old")  # touched at 100, then synced by the partial lane
    w.take_dirty()
    w.inflight.clear()
    left = w.pending(150.0)
    assert not left("old")
    assert not left("quiet")
    clock.now = 200.0
    w.poke("new")  # after the full pass started: the partial lane has the newer spec
    assert left("new")
    batches = w.take_dirty()
    assert batches == [frozenset({"new"})]
    assert left("new"), "while the partial lane syncs it"
    w.inflight.clear()
    assert left("new"), "changed after the full pass started"
    w.poke("waiting")
    w.touched.clear()
    assert left("waiting"), "still waiting in the partial lane"


def test_a_burst_is_split_into_sorted_batches() -> None:
    w = worker()
    domains = [f"d{i:04}" for i in range(PARTIAL_LIMIT + 10)]
    for domain in reversed(domains):
        w.poke(domain)
    batches = w.take_dirty()
    assert batches is not None
    assert [len(b) for b in batches] == [PARTIAL_LIMIT, 10]
    assert sorted(batches[0]) == domains[:PARTIAL_LIMIT]
    assert w.inflight == set(domains)
    assert w.dirty == set()


def test_a_partial_pass_that_cannot_be_merged_asks_for_a_full_one() -> None:
    w = worker()
    w.record(ClusterReport("dev", ok=True), datetime.datetime.now(datetime.UTC), frozenset({"a"}))
    assert w.full_wake.is_set()
    assert w.last is not None


# --- the lanes, with a fake pass --------------------------------------------------------------------

Call = tuple[frozenset[str] | None, bool]


class Recording(MemberWorker):
    """A worker whose pass only records what it was asked (and answers as told)."""

    def __init__(self, answer: Callable[[frozenset[str] | None], ClusterReport | None], **settings: Any) -> None:
        super().__init__("dev", shared(**settings))
        self.calls: asyncio.Queue[Call] = asyncio.Queue()
        self.answer = answer

    async def sync(self, scope: frozenset[str] | None = None, *, skip: Skip | None = None) -> ClusterReport | None:
        await self.calls.put((scope, skip is not None))
        return self.answer(scope)


def ok(_: frozenset[str] | None) -> ClusterReport:
    return ClusterReport("dev", ok=True)


async def next_call(w: Recording) -> Call:
    return await asyncio.wait_for(w.calls.get(), DEADLINE)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


async def stopped(w: MemberWorker) -> None:
    task = w.cancel()
    assert task is not None
    await asyncio.gather(task, return_exceptions=True)


def test_the_full_lane_starts_at_once_and_a_poke_runs_a_partial_pass() -> None:
    async def test() -> None:
        w = Recording(ok, resync_seconds=3600)
        w.start()
        assert await next_call(w) == (None, True), "a full pass first, told what to leave alone"
        w.poke("payments")
        assert await next_call(w) == (frozenset({"payments"}), False)
        assert w.inflight == set()
        assert w.shared.status_wake.is_set()
        await stopped(w)

    run(test)


def test_a_poke_for_everything_runs_a_full_pass() -> None:
    async def test() -> None:
        w = Recording(ok, resync_seconds=3600)
        w.start()
        await next_call(w)
        w.poke(None)
        assert await next_call(w) == (None, True)
        await stopped(w)

    run(test)


def test_a_failed_full_pass_is_retried_without_a_poke() -> None:
    async def test() -> None:
        w = Recording(lambda scope: None, resync_seconds=3600)  # the host did not answer
        w.start()
        assert (await next_call(w))[0] is None
        assert (await next_call(w))[0] is None, "retried after a second, not after the resync interval"
        await stopped(w)

    run(test)


def test_a_crashed_partial_pass_asks_for_a_full_one() -> None:
    def answer(scope: frozenset[str] | None) -> ClusterReport:
        if scope is not None:
            raise RuntimeError("a bug")
        return ClusterReport("dev", ok=True)

    async def test() -> None:
        w = Recording(answer, resync_seconds=3600)
        w.start()
        await next_call(w)
        w.poke("payments")
        assert await next_call(w) == (frozenset({"payments"}), False)
        assert await next_call(w) == (None, True), "the full lane runs at once"
        await stopped(w)

    run(test)


def test_release_lets_go_of_the_member() -> None:
    async def test() -> None:
        w = worker()
        await w.release()
        assert cast(Clients, w.shared.clients).forgotten == ["dev"]

    run(test)
