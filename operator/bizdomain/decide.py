"""Decide what one pass does on one member: pure, from the plan and a snapshot of the member.

HNC's ``syncWithForest`` / ``operate`` split: :func:`decide` takes the cluster's plan and what
the member's view holds (every namespace, and every object carrying the operator's labels)
and returns every action of the pass (create, apply, delete, release), each with the tenant
it is for, plus the plan as decided (the namespaces each tenant keeps, the problems found).
The sync engine only carries the actions out. Every ownership and protection rule lives here:

- **A namespace that exists keeps its owner**: the domain (by uid, recorded on the namespace)
  and the environment it was created for. Another tenant's claim never changes, prunes or
  releases it; it reports a conflict that names nobody else. A released namespace is taken
  back only by the same domain uid and environment (or a uid the domain adopts, by a
  platform admin's annotation). A namespace that does not exist goes to the oldest claim.
- **Protection comes from where a namespace is and what it was**: one that belongs to a
  protected environment, sits on a member serving one, or ever carried the protected label
  is never deleted (released instead) and keeps that label.
- **A frozen tenant fails safe**: it creates nothing and grants nothing new; a RoleBinding keeps
  only the subjects both it and the valid part of the binding name (so removed departments,
  members and hand-added subjects lose their rights at once), drift in what restricts
  (network isolation, a deleted quota) is corrected, and nothing else is pruned.
- **What restricts stays with a released namespace**: its ResourceQuota and LimitRange are never
  pruned with it, so the workloads left there stay bounded (budgets, issue 13).
- **Prune only what is ours, by the right policy**: an object is a candidate only when it carries
  a tenant's labels, sits in a namespace of that same tenant, and was made for a domain uid the
  host knows (so a host rebuilt from Git, whose domains have new uids, prunes nothing until a
  platform admin lets the domain adopt the old uid); its living tenant's policy governs, else
  the policy recorded on the namespace.

Called by :mod:`bizdomain.sync.engine`; unit-tested in ``tests/unit/test_decide.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan import ClusterPlan, Desired, Problem, TenantPlan, needs_apply
from bizdomain.plan.attribution import claimed_tenant
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, Key, build, key_of, tenant_labels
from bizdomain.plan.tenant import role_binding

JSON = dict[str, Any]
TenantKey = tuple[str, str]
SubjectKey = tuple[str, str, str]
# On a compact view entry: the spec-hash of the desired object it was found to hold (None: unknown).
IN_SYNC = "__in_sync__"
# On a compact view entry of a RoleBinding: its subjects, as SubjectKeys.
SUBJECTS = "__subjects__"
# What bounds a namespace's workloads: kept when the namespace is released, never pruned with it.
RESTRICTING = ("ResourceQuota", "LimitRange")


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


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj["metadata"].get("labels") or {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj["metadata"].get("annotations") or {}


def tenant_of(obj: Mapping[str, Any]) -> TenantKey | None:
    """The (domain, environment) an object's labels give it, when it is a tenant object of ours."""
    return claimed_tenant(_labels(obj))


def owns(namespace: Mapping[str, Any], tenant: TenantKey, uids: tuple[str, ...]) -> bool:
    """Whether an existing namespace is ``tenant``'s: its domain (one of ``uids``) and environment.

    A namespace without a recorded uid (made before uids were recorded) is its labels' tenant's
    while the operator still manages it; a released one needs its uid.
    """
    labels = _labels(namespace)
    if (labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)) != tenant:
        return False
    managed = labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY_VALUE
    released = labels.get(names.LABEL_RELEASED) == "true"
    if not (managed or released):
        return False
    recorded = _annotations(namespace).get(names.ANNOTATION_DOMAIN_UID)
    return recorded in uids if recorded else managed


def is_protected(namespace: Mapping[str, Any], plan: ClusterPlan, settings: Settings) -> bool:
    """Never deleted: it is (or ever was) in a protected environment, or on a member serving one."""
    labels = _labels(namespace)
    return (
        plan.protected
        or labels.get(names.LABEL_PROTECTED) == "true"
        or settings.is_protected_environment(labels.get(names.LABEL_ENVIRONMENT, ""))
    )


def _protect(desired: Desired) -> Desired:
    """The namespace ``desired``, carrying the protected label (which is never taken off)."""
    body = desired.body
    meta = body.pop("metadata")
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != ANNOTATION_SPEC_HASH}
    labels = {**meta["labels"], names.LABEL_PROTECTED: "true"}
    content = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
    return build(desired.kind, desired.name, desired.namespace, labels, content, annotations)


class _Decider:
    def __init__(
        self,
        plan: ClusterPlan,
        namespaces: Mapping[str, JSON],
        live: Mapping[Key, JSON],
        settings: Settings,
    ) -> None:
        self.plan = plan
        self.namespaces = namespaces
        self.live = live
        self.settings = settings
        self.decided: dict[TenantKey, TenantPlan] = {}
        self.kept: set[str] = set()  # every namespace a decided tenant keeps (set by _prunes)
        self.out = Decision(plan=replace(plan, tenants=self.decided))

    def run(self) -> Decision:
        for key, tenant in self.plan.tenants.items():
            self.decided[key] = tenant if tenant.hold else self._settle(tenant)
        self.out.applies = [a for t in self.decided.values() if not t.hold for a in self._applies(t)]
        self.out.applies += [a for t in self.decided.values() if t.hold for a in self._revocations(t)]
        self._prunes()
        return self.out

    # ---- namespaces ----------------------------------------------------------------------

    def _settle(self, tenant: TenantPlan) -> TenantPlan:
        """A copy of ``tenant`` keeping only the namespaces it may have on this member."""
        uids = self.plan.owners.get(tenant.domain, (tenant.domain_uid,))
        kept: list[str] = []
        problems = list(tenant.problems)
        for namespace in tenant.namespaces:
            existing = self.namespaces.get(namespace)
            if existing is not None and existing["metadata"].get("deletionTimestamp"):
                problems.append(Problem(names.Reason.PROGRESSING, f"namespace {namespace!r} is still terminating"))
            elif existing is not None and not owns(existing, tenant.key, uids):
                problems.append(
                    self._conflict(
                        namespace, "already exists and was not created by bizdomain for this domain and environment"
                    )
                )
            elif existing is None and self.plan.claimants.get(namespace, [tenant.key])[0] != tenant.key:
                problems.append(self._conflict(namespace, "is claimed by an older binding"))
            elif existing is None and tenant.frozen:
                continue  # a frozen tenant creates nothing
            else:
                kept.append(namespace)
        children = [self._protected(c) for c in tenant.children if _home(c) in kept]
        unchanged = kept == tenant.namespaces and problems == tenant.problems and len(children) == len(tenant.children)
        if unchanged and all(a is b for a, b in zip(children, tenant.children, strict=True)):
            return tenant  # nothing to change: share the planned tenant (its Workspace is built once)
        return tenant.keeping(kept, children, problems)

    def _protected(self, desired: Desired) -> Desired:
        """A namespace on a member serving a protected environment, or once protected, stays so."""
        if desired.kind != "Namespace" or names.LABEL_PROTECTED in _labels(desired.body):
            return desired
        existing = self.namespaces.get(desired.name)
        if self.plan.protected or (existing is not None and is_protected(existing, self.plan, self.settings)):
            return _protect(desired)
        return desired

    def _conflict(self, namespace: str, why: str) -> Problem:
        return Problem(
            names.Reason.NAMESPACE_CONFLICT,
            f"namespace {namespace!r} on cluster {self.plan.cluster!r} {why}; it is left untouched",
        )

    # ---- applies -------------------------------------------------------------------------

    def _applies(self, tenant: TenantPlan) -> list[Apply]:
        if tenant.frozen:
            return self._frozen_applies(tenant)
        out = []
        for desired in tenant.objects:
            if desired.kind == "Namespace" and desired.name not in self.namespaces:
                out.append(Apply(tenant.key, desired, create=True))
            elif not in_sync(desired, self.live.get(desired.key)):
                out.append(Apply(tenant.key, desired))
        return out

    def _frozen_applies(self, tenant: TenantPlan) -> list[Apply]:
        """A frozen tenant revokes and corrects, never grants: no new namespace, RoleBinding, quota
        or limits; existing RoleBindings keep only the subjects the binding's valid part names."""
        out = []
        for desired in tenant.objects:
            live = self.live.get(desired.key)
            if desired.kind == "RoleBinding":
                continue  # judged below, against what is there
            changed = live is not None and _annotations(live).get(ANNOTATION_SPEC_HASH) != desired.spec_hash
            if desired.kind in ("Workspace", "ResourceQuota", "LimitRange") and changed:
                continue  # a frozen binding's new quota, limits or namespace list wait until it is fixed
            # (the same ones, edited by hand, are corrected)
            if not in_sync(desired, live):
                out.append(Apply(tenant.key, desired))
        for key, live in self.live.items():
            if key[0] != "RoleBinding" or tenant_of(live) != tenant.key or not self._mine(live, tenant.key):
                continue
            action = self._narrowed(tenant, key, live)
            if isinstance(action, Apply):
                out.append(action)
            elif action is not None:
                self.out.prunes.append(action)
        return out

    def _revocations(self, tenant: TenantPlan) -> list[Apply]:
        """A held tenant: its department RoleBindings keep only the members the domain still has."""
        if tenant.departments is None:
            return []
        out = []
        for key, live in self.live.items():
            if key[0] != "RoleBinding" or not key[2].startswith(names.DEPARTMENT_BINDING_PREFIX):
                continue
            if tenant_of(live) != tenant.key or not self._mine(live, tenant.key):
                continue
            department, _, role = key[2][len(names.DEPARTMENT_BINDING_PREFIX) :].partition(":")
            members = tenant.departments.get(department)
            grant = (names.role_cluster_role(role), members) if members else None
            action = self._narrowed(tenant, key, live, grant)
            if isinstance(action, Apply):
                out.append(action)
            elif action is not None:
                self.out.prunes.append(action)
        return out

    def _narrowed(
        self, tenant: TenantPlan, key: Key, live: JSON, grant: tuple[str, list[dict[str, str]]] | None = None
    ) -> Apply | Prune | None:
        grant = grant if grant is not None or tenant.hold else tenant.grants.get(key[2])
        held = set(live.get(SUBJECTS) or subject_keys(live.get("subjects")))
        kept = [s for s in grant[1] if subject_keys([s])[0] in held] if grant else []
        if grant is None or not kept:
            return Prune(tenant.key, live)
        reduced = role_binding(key[2], key[1] or "", tenant_labels(*tenant.key), grant[0], kept)
        if _annotations(live).get(ANNOTATION_SPEC_HASH) == reduced.spec_hash and held == set(subject_keys(kept)):
            return None
        return Apply(tenant.key, reduced)

    def _mine(self, obj: JSON, tenant: TenantKey) -> bool:
        """Whether a namespaced object sits in a namespace of ``tenant``, made for a uid it owns."""
        home = self.namespaces.get(obj["metadata"].get("namespace") or "")
        if home is None or _holder(home) != tenant:
            return False
        uid = _annotations(home).get(names.ANNOTATION_DOMAIN_UID)
        return uid is None or uid in self.plan.owners.get(tenant[0], ())

    # ---- prunes --------------------------------------------------------------------------

    def _prunes(self) -> None:
        wanted = {d.key for d in self.plan.platform}
        for tenant in self.decided.values():
            wanted.update(d.key for d in tenant.objects)
        self.kept = {namespace for tenant in self.decided.values() for namespace in tenant.namespaces}
        decided_prunes = {p.key for p in self.out.prunes}
        for key, obj in self.live.items():
            if key in wanted or key in decided_prunes:
                continue
            tenant_key = tenant_of(obj)
            if tenant_key is None:
                continue  # the platform's ClusterRoles are bizdomain join's, never the operator's
            prune = self._prune(key, obj, tenant_key)
            if prune is not None:
                self.out.prunes.append(prune)

    def _prune(self, key: Key, obj: JSON, tenant_key: TenantKey) -> Prune | None:
        kind, namespace, name = key
        home = obj if kind in ("Namespace", "Workspace") else self.namespaces.get(namespace or "")
        if home is None or _holder(home) != tenant_key:
            return None  # not in a namespace of the same tenant: whatever its labels say, not ours to remove
        uid = _annotations(home).get(names.ANNOTATION_DOMAIN_UID)
        if uid is not None and uid not in self.plan.owners.get(tenant_key[0], ()):
            # Made for a domain the host does not know (deleted, or a host rebuilt from Git whose
            # domain has a new uid): never pruned; the domain takes it back by adopting the uid.
            return None
        tenant = self.decided.get(tenant_key)
        if tenant is not None and tenant.hold:
            return None
        if tenant is not None and tenant.frozen:
            return None  # its RoleBindings are narrowed by _frozen_applies; nothing else goes
        if kind in RESTRICTING and namespace not in self.kept:
            # Its namespace is released (now or before) or deleted: what bounds the workloads left
            # there stays with it, or they would be unbounded while a new namespace gets the budget.
            return None
        if kind != "Namespace":
            return Prune(tenant_key, obj)
        if self.settings.is_protected_namespace(name) or obj["metadata"].get("deletionTimestamp"):
            return None
        policy = tenant.deletion_policy if tenant is not None else _recorded_policy(obj)
        if policy == "Delete" and is_protected(obj, self.plan, self.settings):
            if tenant is not None:
                blocked = Problem(
                    names.Reason.DELETION_BLOCKED,
                    f"namespace {name!r} on cluster {self.plan.cluster!r} is protected and is never deleted: "
                    "it is released instead",
                )
                self.decided[tenant_key] = replace(tenant, problems=[*tenant.problems, blocked])
            policy = "Retain"
        return Prune(tenant_key, obj, release=policy != "Delete")


def _home(desired: Desired) -> str | None:
    """The namespace a desired object lives in (a Namespace is its own)."""
    return desired.name if desired.kind == "Namespace" else desired.namespace


def _holder(obj: Mapping[str, Any]) -> TenantKey | None:
    """The tenant an object of ours (or a namespace it released) belongs to, by its labels."""
    labels = _labels(obj)
    if labels.get(names.LABEL_RELEASED) == "true" and obj["kind"] == "Namespace":
        domain, environment = labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)
        return (domain, environment) if domain and environment else None
    return tenant_of(obj)


def _recorded_policy(namespace: Mapping[str, Any]) -> str:
    return "Delete" if _annotations(namespace).get(names.ANNOTATION_DELETION_POLICY) == "Delete" else "Retain"


def decide(
    plan: ClusterPlan,
    namespaces: Mapping[str, JSON],
    live: Mapping[Key, JSON],
    settings: Settings,
) -> Decision:
    """Every action of one pass on ``plan.cluster``.

    ``namespaces``: every namespace on the member (compact view entries); ``live``: every object
    carrying the operator's managed-by label (of the plan's domains, for a partial pass).
    """
    return _Decider(plan, namespaces, live, settings).run()
