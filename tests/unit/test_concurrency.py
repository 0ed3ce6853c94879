"""concurrency.each: every job runs, never more than the limit at once, errors come out."""

from __future__ import annotations

import asyncio

import pytest

from bizdomain.concurrency import each


def test_every_item_runs_and_never_more_than_the_limit_at_once() -> None:
    running, peak, done = 0, 0, []

    async def job(i: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (i % 3))
        running -= 1
        done.append(i)

    asyncio.run(each(range(50), job, 4))
    assert sorted(done) == list(range(50))
    assert peak == 4


def test_an_error_is_raised_after_the_other_jobs_finished() -> None:
    done: list[int] = []

    async def job(i: int) -> None:
        if i == 3:
            raise ValueError("boom")
        await asyncio.sleep(0)
        done.append(i)

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(each(range(10), job, 2))
    assert 9 in done


def test_nothing_to_do_is_fine() -> None:
    asyncio.run(each([], lambda _: asyncio.sleep(0), 8))
