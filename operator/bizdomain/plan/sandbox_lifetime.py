"""A sandbox's life: when it expires, when ``ExpiringSoon`` is due, and its phase. Pure.

A sandbox lives until its ``expiresAt``, else ``ttl`` from its creation (the platform allows at
most ``sandbox_max_lifetime_hours``); past 80% of its life it is ``Expiring``. Called by the planner
(:func:`bizdomain.plan.sandbox.sandbox_problems`: a lifetime the platform does not allow
freezes it), the sandbox status writer (:mod:`bizdomain.sandbox_status`: :func:`expiry`,
:func:`phase`) and the sandbox keeper (:mod:`bizdomain.sandbox_keeper`: :func:`expiring_at`).
"""

from __future__ import annotations

import datetime

from bizdomain.config import Settings
from bizdomain.plan.inputs import SandboxRecord

EXPIRING_FRACTION = 0.8  # ExpiringSoon once this much of its life has passed


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def expiry(sandbox: SandboxRecord) -> datetime.datetime | None:
    """When it expires (None: unparseable, which is never taken as expired)."""
    if sandbox.spec is None or not sandbox.created:
        return None
    return sandbox.spec.expiry(parse_time(sandbox.created))


def expiring_at(sandbox: SandboxRecord) -> datetime.datetime | None:
    """When ``ExpiringSoon`` is due: at 80% of its life."""
    end = expiry(sandbox)
    if end is None:
        return None
    start = parse_time(sandbox.created)
    return start + (end - start) * EXPIRING_FRACTION


def too_long(sandbox: SandboxRecord, settings: Settings) -> bool:
    """Whether it would live longer from its creation than the platform allows."""
    end = expiry(sandbox)
    if end is None:
        return False
    return (end - parse_time(sandbox.created)).total_seconds() > settings.sandbox_max_lifetime_hours * 3600


def phase(sandbox: SandboxRecord, ready: bool, now: datetime.datetime) -> str:
    """Provisioning, Ready, Expiring (past 80% of its life) or Deleting."""
    if sandbox.deleting:
        return "Deleting"
    if not ready:
        return "Provisioning"
    due = expiring_at(sandbox)
    return "Expiring" if due is not None and now >= due else "Ready"
