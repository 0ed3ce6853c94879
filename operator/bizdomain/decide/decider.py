"""The pass: every rule of :mod:`bizdomain.decide` applied to one member's plan and view.

:func:`decide` settles each tenant's namespaces (owner, oldest claim, protection), then what to
apply (a frozen tenant's narrowed RoleBindings, a held tenant's revocations), then what to
prune and by which policy; it reads whose an object is from :mod:`.ownership`. Pure. Called
through :func:`bizdomain.decide.decide`; unit-tested in ``tests/unit/test_decide.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.decide.actions import JSON, SUBJECTS, Apply, Decision, Prune, TenantKey, in_sync, subject_keys
from bizdomain.decide.ownership import (
    annotations_of,
    holder,
    is_protected,
    labels_of,
    owns,
    protect,
    recorded_policy,
    tenant_of,
)
from bizdomain.plan import ClusterPlan, Desired, Problem, TenantPlan
from bizdomain.plan.children import role_binding
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, Key, tenant_labels

# What bounds a namespace's workloads: kept when the namespace is released, never pruned with it.
RESTRICTING = ("ResourceQuota", "LimitRange")


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
        if desired.kind != "Namespace" or names.LABEL_PROTECTED in labels_of(desired.body):
            return desired
        existing = self.namespaces.get(desired.name)
        if self.plan.protected or (existing is not None and is_protected(existing, self.plan, self.settings)):
            return protect(desired)
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
            changed = live is not None and annotations_of(live).get(ANNOTATION_SPEC_HASH) != desired.spec_hash
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
        if annotations_of(live).get(ANNOTATION_SPEC_HASH) == reduced.spec_hash and held == set(subject_keys(kept)):
            return None
        return Apply(tenant.key, reduced)

    def _mine(self, obj: JSON, tenant: TenantKey) -> bool:
        """Whether a namespaced object sits in a namespace of ``tenant``, made for a uid it owns."""
        home = self.namespaces.get(obj["metadata"].get("namespace") or "")
        if home is None or holder(home) != tenant:
            return False
        uid = annotations_of(home).get(names.ANNOTATION_DOMAIN_UID)
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
        if home is None or holder(home) != tenant_key:
            return None  # not in a namespace of the same tenant: whatever its labels say, not ours to remove
        uid = annotations_of(home).get(names.ANNOTATION_DOMAIN_UID)
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
        policy = tenant.deletion_policy if tenant is not None else recorded_policy(obj)
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
