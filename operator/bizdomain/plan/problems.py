"""A problem the planner found with a tenant: a reason constant (:mod:`bizdomain.names`) and a message.

Shared by :mod:`bizdomain.plan.tenant` (which re-exports it) and :mod:`bizdomain.plan.budget`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str
