"""What every member worker uses and none owns, handed in by :class:`bizdomain.runtime.Runtime`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bizdomain.config import Settings
from bizdomain.members import MemberClients
from bizdomain.plan import TenantMemo, World
from bizdomain.reporting import StatusWriter

# Asked right before each write of a full pass: whether a domain is left to the partial lane.
Skip = Callable[[str], bool]


@dataclass
class Shared:
    """The settings, clients, world, planner memo, status writer and pass counter of the runtime."""

    settings: Settings
    clients: MemberClients
    world: Callable[[], World]
    planned: TenantMemo
    status: StatusWriter
    status_wake: asyncio.Event  # set after every pass: the status loop sums it up
    seq: Iterator[int]  # pass sequence numbers, over every member
