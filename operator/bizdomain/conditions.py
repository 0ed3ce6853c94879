"""Conditions, in one place: the builder, ``now()``, the blocking rule and the lastTransitionTime rule.

Pure. Used by :mod:`bizdomain.status` (BusinessDomain, EnvironmentBinding and MemberCluster
status) and :mod:`bizdomain.sync.workspaces` (the Workspace status on each member), so that a
host object and a member Workspace agree on what is ready and when it last changed.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bizdomain import names
from bizdomain.api.common import Condition
from bizdomain.plan import Problem

# A problem with one of these reasons does not make a tenant unready: it is reported, and the rest converged.
WARNINGS = frozenset({names.Reason.DELETION_BLOCKED})
IDLE = "Idle"  # Reconciling=False
AS_EXPECTED = "AsExpected"  # Degraded=False


def now() -> str:
    """The current time as Kubernetes writes it in conditions (UTC, seconds, ``Z``)."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def blocking(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that keep a tenant from being ready (every one but a warning)."""
    return [p for p in problems if p.reason not in WARNINGS]


def since(previous: Mapping[str, Any] | None, status: str) -> str:
    """lastTransitionTime: kept while the condition's status holds, now when it flips (or is new)."""
    old = previous or {}
    kept = old.get("lastTransitionTime") if old.get("status") == status else None
    return str(kept) if kept else now()


@dataclass(frozen=True)
class Verdict:
    """What a status says: Ready, Reconciling and Degraded, with one reason and message.

    Build one with :meth:`ready`, :meth:`progressing` or :meth:`failed`.
    """

    ready: bool
    reconciling: bool
    degraded: bool
    reason: str
    message: str

    @classmethod
    def converged(cls, reason: str, message: str) -> Verdict:
        """Ready; nothing in progress, nothing wrong."""
        return cls(ready=True, reconciling=False, degraded=False, reason=reason, message=message)

    @classmethod
    def progressing(cls, reason: str, message: str) -> Verdict:
        """Not ready yet, on its way (nothing has failed)."""
        return cls(ready=False, reconciling=True, degraded=False, reason=reason, message=message)

    @classmethod
    def failed(cls, reason: str, message: str, *, reconciling: bool = False) -> Verdict:
        """Not ready because something is wrong (``reconciling``: and a newer spec is still on its way)."""
        return cls(ready=False, reconciling=reconciling, degraded=True, reason=reason, message=message)


def conditions(verdict: Verdict, generation: int, previous: list[dict[str, Any]]) -> list[Condition]:
    """Ready, Reconciling and Degraded; lastTransitionTime kept unless the status flipped."""
    old = {c.get("type"): c for c in previous}
    wanted = [
        (names.COND_READY, verdict.ready, verdict.reason),
        (names.COND_RECONCILING, verdict.reconciling, names.Reason.PROGRESSING if verdict.reconciling else IDLE),
        (names.COND_DEGRADED, verdict.degraded, verdict.reason if verdict.degraded else AS_EXPECTED),
    ]
    out = []
    for type_, flag, reason in wanted:
        status = "True" if flag else "False"
        message = verdict.message if (type_ == names.COND_READY or flag) else ""
        out.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=since(old.get(type_), status),
                observed_generation=generation,
            )
        )
    return out


def same_status(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether writing ``new`` would leave ``old`` as it is: the same fields, with the same values."""
    return dict(new) == {k: v for k, v in old.items() if k in new} and all(k in new for k in old)
