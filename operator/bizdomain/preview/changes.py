"""One member's plan: the operator's own planner and decide step, turned into reviewable changes.

Called by :mod:`bizdomain.preview.command` once per member cluster. :func:`decide_member` is
exactly what a full pass of the operator decides (:func:`bizdomain.plan.plan_cluster`, then
:func:`bizdomain.decide.decide`, with every ownership and protection rule); :func:`result`
only describes it: each apply becomes a create, an update (the plan changed) or a correction
(drift), each prune a prune, release or delete, with a field-level diff and the dangers a
reviewer must see. Nothing here decides anything the operator would not.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.decide import SUBJECTS, Apply, Decision, Prune, decide, subject_keys, tenant_of
from bizdomain.decide.ownership import annotations_of
from bizdomain.plan import MemberRecord, TenantMemo, World, plan_cluster
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, key_of
from bizdomain.preview import danger
from bizdomain.preview.diff import diff, new_fields
from bizdomain.preview.model import ACTIONS, Change, ClusterResult, Issue, TenantResult
from bizdomain.preview.state import Key, MemberState

JSON = dict[str, Any]
# Created objects show their content, not their metadata; these kinds say it all in their name.
QUIET_CREATES = ("Namespace", "Workspace")
KIND_ORDER = ("Workspace", "Namespace", "RoleBinding", "ResourceQuota", "LimitRange", "NetworkPolicy")


def decide_member(
    member: MemberRecord, world: World, state: MemberState, settings: Settings, memo: TenantMemo | None = None
) -> Decision:
    """What the operator's next full pass on ``member`` would do, given ``state``."""
    return decide(plan_cluster(member, world, settings, memo=memo), state.namespaces, state.live, settings)


def wanted_bodies(decision: Decision, state: MemberState) -> list[Key]:
    """Objects whose whole body the diff needs and ``state`` does not hold (live: read them)."""
    keys = [a.desired.key for a in decision.applies if _before(a.desired.key, state) is not None]
    return [k for k in keys if k not in state.bodies]


def _before(key: Key, state: MemberState) -> JSON | None:
    """What the member holds under ``key``: a namespace the operator released is no longer managed
    (not among the managed objects) but is still there, and taking it back is an update."""
    found = state.bodies.get(key) or state.live.get(key)
    if found is None and key[0] == "Namespace":
        found = state.namespaces.get(key[2])
    return found


def _hash(obj: JSON | None) -> str | None:
    return ((obj or {}).get("metadata", {}).get("annotations") or {}).get(ANNOTATION_SPEC_HASH)


def _holders(state: MemberState) -> dict[str, dict[danger.Subject, set[str]]]:
    """namespace -> subject -> the roles our RoleBindings give it there now."""
    out: dict[str, dict[danger.Subject, set[str]]] = {}
    for key, entry in state.live.items():
        if key[0] != "RoleBinding" or key[1] is None:
            continue
        body = state.bodies.get(key, entry)
        role = danger.binding_role(key[2], (body.get("roleRef") or {}).get("name"))
        subjects = entry.get(SUBJECTS) or subject_keys(body.get("subjects"))
        for subject in subjects:
            out.setdefault(key[1], {}).setdefault(subject, set()).add(role)
    return out


class _Describer:
    def __init__(self, decision: Decision, state: MemberState, settings: Settings) -> None:
        self.decision = decision
        self.state = state
        self.settings = settings
        self.holders = _holders(state)

    def protected(self, environment: str) -> bool:
        return self.decision.plan.protected or self.settings.is_protected_environment(environment)

    def adopted(self, change: Change) -> list[str]:
        """The danger of changing what lives in a namespace made for a uid the domain adopts, not its own."""
        namespace = change.name if change.kind == "Namespace" else change.namespace
        home = self.state.namespaces.get(namespace or "")
        owners = self.decision.plan.owners.get(change.domain or "", ())
        recorded = annotations_of(home).get(names.ANNOTATION_DOMAIN_UID) if home is not None else None
        if recorded and owners and recorded != owners[0] and recorded in owners:
            return [danger.adoption(change.what, change.domain or "", recorded)]
        return []

    def apply(self, action: Apply) -> Change:
        desired = action.desired
        before = _before(desired.key, self.state)
        body = desired.body
        domain, environment = action.tenant or (None, None)
        if action.create or before is None:
            verb = "create"
            fields = [] if desired.kind in QUIET_CREATES else new_fields(body)
        else:
            verb = "update" if _hash(before) != desired.spec_hash else "correct"
            fields = diff(body, before, whole=self.state.whole)
        change = Change(verb, desired.kind, desired.namespace, desired.name, domain, environment, fields)
        if desired.kind == "RoleBinding" and desired.namespace and environment:
            held = set(subject_keys(before.get("subjects"))) if before and "subjects" in before else set()
            if before and SUBJECTS in before:
                held = set(before[SUBJECTS])
            added = [s for s in subject_keys(body.get("subjects")) if s not in held]
            role = danger.short_role(body["roleRef"]["name"])
            exists = desired.namespace in self.state.namespaces
            holders = self.holders.get(desired.namespace, {}) if exists else None
            change.dangers = danger.grant(
                role,
                added,
                holders,
                environment=environment,
                protected=self.protected(environment),
                namespace=desired.namespace,
            )
        change.dangers += self.adopted(change)
        return change

    def prune(self, prune: Prune) -> Change:
        kind, namespace, name = key_of(prune.live)
        tenant = prune.tenant or tenant_of(prune.live) or (None, None)
        domain, environment = tenant
        verb = "release" if prune.release else "delete" if kind == "Namespace" else "prune"
        change = Change(verb, kind, namespace, name, domain, environment)
        change.dangers = danger.removal(verb, change.what, environment or "", self.protected(environment or ""))
        change.dangers += self.adopted(change)
        return change


def _order(change: Change) -> tuple[Any, ...]:
    kind = KIND_ORDER.index(change.kind) if change.kind in KIND_ORDER else len(KIND_ORDER)
    return (
        change.domain or "",
        change.environment or "",
        ACTIONS.index(change.action),
        kind,
        change.namespace or "",
        change.name,
    )


def result(member: MemberRecord, decision: Decision, state: MemberState, settings: Settings) -> ClusterResult:
    """The reviewable form of ``decision`` on ``member``."""
    environments = list(member.spec.environments) if member.spec else []
    out = ClusterResult(member.name, environments, protected=decision.plan.protected)
    describer = _Describer(decision, state, settings)
    out.changes = [describer.apply(a) for a in decision.applies]
    out.changes += [describer.prune(p) for p in decision.prunes]
    out.changes.sort(key=_order)
    applied = Counter(a.tenant for a in decision.applies)
    for key in sorted(decision.plan.tenants):
        tenant = decision.plan.tenants[key]
        out.tenants.append(
            TenantResult(
                tenant.domain,
                tenant.environment,
                "/".join(tenant.binding),
                frozen=tenant.frozen,
                namespaces=list(tenant.namespaces),
                unchanged=max(0, len(tenant.objects) - applied[key]) if not tenant.hold else 0,
                problems=[Issue(p.reason, p.message) for p in tenant.problems],
            )
        )
    return out
