"""The operator's footprint on the host: one namespace per domain for its bindings.

In it, the domain's owners are bound to the chart's ``bizdomain.io:domain-owner`` ClusterRole
(so they can edit their own EnvironmentBindings and nobody else's), and a ResourceQuota caps how
many EnvironmentBindings the domain may have (``BIZDOMAIN_MAX_BINDINGS_PER_DOMAIN``).

A host namespace is trusted only when the operator made it for this very domain: it carries the
host labels and the domain's uid (:func:`host_namespace_state`). A ``domain-<name>`` that someone
else made, or that was made for an earlier domain of the same name, is a conflict: the operator
writes nothing into it, and the bindings in it are not acted on (:func:`domain_trusted`, which
the member planner asks). The runtime's host loop calls :func:`desired_host`; the status writer
calls :func:`host_namespace_state` to say why a domain is not acted on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan.budget import host_annotations
from bizdomain.plan.cluster import domain_for_namespace
from bizdomain.plan.inputs import DomainRecord, HostNamespaceRecord, World
from bizdomain.plan.objects import Desired, build
from bizdomain.plan.sandbox_host import sandbox_annotations, sandboxers, sandboxers_binding
from bizdomain.plan.subjects import allowed_subjects


def host_labels(domain: str) -> dict[str, str]:
    return {
        names.LABEL_MANAGED_BY: names.MANAGED_BY_VALUE,
        names.LABEL_COMPONENT: names.COMPONENT_HOST,
        names.LABEL_DOMAIN: domain,
    }


class HostNamespace(enum.StrEnum):
    MISSING = "Missing"  # not there: the operator creates it (with a plain create)
    OURS = "Ours"  # made by the operator for this domain: trusted
    TERMINATING = "Terminating"  # being deleted: wait for it to go
    CONFLICT = "Conflict"  # someone else's, or an earlier domain's of the same name: never touched


@dataclass(frozen=True)
class HostNamespaceVerdict:
    state: HostNamespace
    namespace: str
    message: str = ""

    @property
    def trusted(self) -> bool:
        return self.state is HostNamespace.OURS


def _made_by_us_for(domain: DomainRecord, ns: HostNamespaceRecord) -> bool:
    labels = ns.labels
    if any(labels.get(k) != v for k, v in host_labels(domain.name).items()):
        return False
    uid = labels.get(names.LABEL_DOMAIN_UID)
    if uid is not None:
        return uid == domain.uid
    # Made before host namespaces carried the domain's uid: the operator's only if made after the
    # domain (a namespace that was there first was someone else's); the host sync stamps the uid.
    return not domain.created or not ns.created or ns.created >= domain.created


def host_namespace_state(domain: DomainRecord, world: World, settings: Settings) -> HostNamespaceVerdict:
    """Whether ``domain``'s host namespace is the operator's for this domain (pure)."""
    name = settings.domain_namespace(domain.name)
    ns = world.host_namespaces.get(name)
    if ns is None:
        return HostNamespaceVerdict(HostNamespace.MISSING, name, f"host namespace {name!r} is being created")
    if not _made_by_us_for(domain, ns):
        return HostNamespaceVerdict(
            HostNamespace.CONFLICT,
            name,
            f"host namespace {name!r} already exists and was not created by bizdomain for this BusinessDomain "
            "(it lacks the operator's labels, or was made for an earlier domain of the same name); nothing is "
            "written into it and the EnvironmentBindings in it are not acted on. A platform admin decides: "
            "delete or rename that namespace (the operator never does), and the operator creates its own",
        )
    if ns.deleting:
        return HostNamespaceVerdict(HostNamespace.TERMINATING, name, f"host namespace {name!r} is being deleted")
    return HostNamespaceVerdict(HostNamespace.OURS, name)


def domain_trusted(domain: DomainRecord, world: World, settings: Settings) -> bool:
    """Whether the bindings in ``domain``'s host namespace may be acted on: only when the operator
    made that namespace for this domain (by uid), including while it is being deleted (its
    bindings' deletions are then carried out). The member planner freezes the others."""
    return host_namespace_state(domain, world, settings).state in (HostNamespace.OURS, HostNamespace.TERMINATING)


def quarantine(world: World, settings: Settings) -> World:
    """``world`` with every binding of an untrusted host namespace turned into an unparsed record,
    which the member planner freezes (nothing applied, nothing pruned): what someone wrote into a
    namespace the operator did not make for the domain is never acted on. Called by the runtime
    on every World it hands out (the planner may ask :func:`domain_trusted` itself instead)."""
    verdicts: dict[str, bool] = {}
    bindings = dict(world.bindings)
    changed = False
    for key, binding in world.bindings.items():
        domain = world.domains.get(domain_for_namespace(binding.namespace, settings) or "")
        if domain is None:
            continue
        if domain.name not in verdicts:
            verdicts[domain.name] = domain_trusted(domain, world, settings)
        if not verdicts[domain.name]:
            error = f"host namespace {binding.namespace!r} is not the operator's: this binding is not acted on"
            bindings[key] = replace(binding, spec=None, error=error)
            changed = True
    return replace(world, bindings=bindings) if changed else world


@dataclass
class HostPlan:
    """What the host should hold, and what the host sync may touch."""

    create: list[Desired] = field(default_factory=list)  # namespaces to create (a plain create, never adopt)
    # Objects in trusted namespaces (and their labels), and in those to create: applied there only
    # once the create succeeded, so never into a namespace someone made meanwhile.
    apply: list[Desired] = field(default_factory=list)
    trusted: dict[str, str] = field(default_factory=dict)  # namespace -> its domain: may be pruned in
    domains: set[str] = field(default_factory=set)  # every domain that exists (its namespace is never pruned)
    conflicts: dict[str, str] = field(default_factory=dict)  # domain -> why its namespace is not touched

    @property
    def desired(self) -> list[Desired]:
        return [*self.create, *self.apply]


def _namespace(domain: DomainRecord, settings: Settings, world: World | None = None) -> Desired:
    labels = {**host_labels(domain.name), names.LABEL_DOMAIN_UID: domain.uid}
    # Its budgets, for the host admission policy (see plan.budget.host_annotations).
    annotations = host_annotations(domain.spec) if domain.spec is not None else None
    if world is not None:  # who may make sandboxes, for the sandbox policy (plan.sandbox_host)
        annotations = {**(annotations or {}), **sandbox_annotations(sandboxers(domain, world, settings), settings)}
    return build("Namespace", settings.domain_namespace(domain.name), None, labels, {}, annotations)


def _quota(domain: DomainRecord, settings: Settings) -> Desired:
    hard = {
        names.BINDING_COUNT_RESOURCE: str(settings.max_bindings_per_domain),
        names.SANDBOX_COUNT_RESOURCE: str(settings.max_sandboxes_per_domain),
    }
    namespace = settings.domain_namespace(domain.name)
    return build("ResourceQuota", names.HOST_QUOTA_NAME, namespace, host_labels(domain.name), {"spec": {"hard": hard}})


def _owners(domain: DomainRecord, settings: Settings) -> Desired | None:
    """The owners' RoleBinding: none while the spec is invalid, never to a refused subject."""
    if domain.spec is None:
        return None
    subjects = [o.to_rbac() for o in allowed_subjects(domain.spec.owners, settings)]
    if not subjects:
        return None
    content = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": names.HOST_OWNER_ROLE},
        "subjects": subjects,
    }
    namespace = settings.domain_namespace(domain.name)
    return build("RoleBinding", names.OWNERS_BINDING, namespace, host_labels(domain.name), content)


def desired_host(world: World, settings: Settings) -> HostPlan:
    """Every domain's host namespace, binding quota and owner RoleBinding (kept while the domain exists)."""
    plan = HostPlan(domains=set(world.domains))
    for domain in sorted(world.domains.values(), key=lambda d: d.name):
        if domain.deleting:
            continue  # its deletion handler removes the namespace once the members are clean
        verdict = host_namespace_state(domain, world, settings)
        if verdict.state is HostNamespace.CONFLICT:
            plan.conflicts[domain.name] = verdict.message
        if verdict.state is HostNamespace.MISSING:
            plan.create.append(_namespace(domain, settings))
        elif verdict.trusted:
            plan.trusted[verdict.namespace] = domain.name
            plan.apply.append(_namespace(domain, settings, world))
        else:
            continue
        plan.apply.append(_quota(domain, settings))
        owners = _owners(domain, settings)
        if owners is not None:
            plan.apply.append(owners)
        creators = sandboxers_binding(domain.name, sandboxers(domain, world, settings), settings)
        if creators is not None:
            plan.apply.append(creators)
    return plan
