"""What a member holds before the change, in the form :func:`bizdomain.decide.decide` reads.

Called by :mod:`bizdomain.preview.command`. Offline, no member is read: each member is taken to
hold exactly what the operator converged it to for the base (:func:`converged`: the operator's
own plan and decide step run on an empty member, every action carried out), so the plan shows
the change itself, never drift. Live, :mod:`bizdomain.preview.live` fills the same shape from
the member's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bizdomain.config import Settings
from bizdomain.decide import IN_SYNC, decide
from bizdomain.plan import MemberRecord, TenantMemo, World, plan_cluster
from bizdomain.plan.objects import key_of

JSON = dict[str, Any]
Key = tuple[str, str | None, str]


@dataclass
class MemberState:
    namespaces: dict[str, JSON] = field(default_factory=dict)  # every namespace on the member
    live: dict[Key, JSON] = field(default_factory=dict)  # every object carrying the managed-by label
    bodies: dict[Key, JSON] = field(default_factory=dict)  # whole objects, where known
    whole: bool = True  # bodies are what the operator itself would write (nothing else is there)


def converged(
    member: MemberRecord | None, base: World, settings: Settings, memo: TenantMemo | None = None
) -> MemberState:
    """The member after the operator converged it on ``base`` (empty when the base lacks it)."""
    state = MemberState()
    if member is None or member.spec is None:
        return state
    plan = plan_cluster(member, base, settings, memo=memo)
    for action in decide(plan, {}, {}, settings).applies:
        body = action.desired.body
        key = key_of(body)
        state.bodies[key] = body
        # As the operator's view keeps it: judged against the desired object it holds exactly.
        state.live[key] = {**body, IN_SYNC: action.desired.spec_hash}
        if body["kind"] == "Namespace":
            state.namespaces[body["metadata"]["name"]] = body
    return state
