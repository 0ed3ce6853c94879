"""Many small jobs with a bound on how many are in flight, without a coroutine per job waiting.

A pass over a thousand domains has tens of thousands of applies; creating them all at once
(``asyncio.gather`` over every coroutine) holds a frame per object queued on the client's
semaphore, which costs memory and scheduling for nothing. :func:`each` runs a few workers
that take the next job when they are done. Used by the sync engine and the status writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def each(items: Iterable[T], run: Callable[[T], Awaitable[object]], limit: int) -> None:
    """``await run(item)`` for every item, at most ``limit`` at a time; the first exception is raised
    once every worker has stopped (the others finish their items)."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await run(item)

    results = await asyncio.gather(*(worker() for _ in range(max(1, limit))), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
