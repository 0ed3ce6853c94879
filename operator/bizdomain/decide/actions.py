"""What one pass does on one member: the actions :func:`bizdomain.decide.decide` returns.

An :class:`Apply` converges one desired object, a :class:`Prune` removes (or releases) one the
operator made; a :class:`Decision` holds them with the plan as decided. Also how a compact view
entry says what it holds (:data:`IN_SYNC`, :data:`SUBJECTS`), which the member view
(:mod:`bizdomain.sync.view`) writes and :func:`in_sync` reads. Pure; imported by the rest of
:mod:`bizdomain.decide`, by :mod:`bizdomain.sync` and by :mod:`bizdomain.preview`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bizdomain.plan import ClusterPlan, Desired, needs_apply
from bizdomain.plan.objects import Key, key_of

JSON = dict[str, Any]
TenantKey = tuple[str, str]
SubjectKey = tuple[str, str, str]
# On a compact view entry: the spec-hash of the desired object it was found to hold (None: unknown).
IN_SYNC = "__in_sync__"
# On a compact view entry of a RoleBinding: its subjects, as SubjectKeys.
SUBJECTS = "__subjects__"


@dataclass(frozen=True)
class Apply:
    """Converge one object; ``create``: a plain create, so "already exists" is a conflict, never adopted."""

    tenant: TenantKey | None
    desired: Desired
    create: bool = False


@dataclass(frozen=True)
class Prune:
    """Remove one object the operator made: delete it, or (a namespace under Retain) release it."""

    tenant: TenantKey | None
    live: JSON
    release: bool = False

    @property
    def key(self) -> Key:
        return key_of(self.live)


@dataclass
class Decision:
    plan: ClusterPlan  # tenants as decided: the namespaces each keeps, the problems found
    applies: list[Apply] = field(default_factory=list)
    prunes: list[Prune] = field(default_factory=list)


def in_sync(desired: Desired, live: Mapping[str, Any] | None) -> bool:
    """Whether ``live`` (a view entry, or a whole object) already holds ``desired``."""
    if live is None:
        return False
    if desired.kind == "Namespace":  # all of it is metadata, which a view entry holds whole
        return not needs_apply(desired.body, dict(live))
    if IN_SYNC in live:
        return bool(live[IN_SYNC] is not None and live[IN_SYNC] == desired.spec_hash)
    return not needs_apply(desired.body, dict(live))


def subject_keys(subjects: Sequence[Mapping[str, Any]] | None) -> tuple[SubjectKey, ...]:
    return tuple((s.get("kind", ""), s.get("name", ""), s.get("namespace", "")) for s in subjects or [])
