"""One domain in one environment on one cluster: its whole desired footprint.

Called by :mod:`bizdomain.plan.cluster` for every (binding, cluster) pair. Pure: the
same records always give the same objects, in the same order. Problems that make the
binding untrustworthy (an unknown department, a role the platform does not allow, a
deployer the platform does not allow) *freeze* the tenant, and a frozen tenant fails safe:
its plan is built from the valid part of the binding only, and the decide step
(:mod:`bizdomain.decide`) lets it revoke and correct but never grant anything new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from bizdomain import names
from bizdomain.api.binding import AccessEntry
from bizdomain.api.common import DNS_LABEL, Limits, Subject
from bizdomain.config import Settings
from bizdomain.plan.budget import capped_limits, limit_problems, namespace_hard
from bizdomain.plan.inputs import BindingRecord, DomainRecord
from bizdomain.plan.objects import Desired, build, tenant_labels
from bizdomain.plan.problems import Problem
from bizdomain.plan.subjects import allowed_subjects, subject_problems

MAX_NAME = 63
_DNS_LABEL = re.compile(DNS_LABEL)


@dataclass
class TenantPlan:
    """What one (domain, environment) wants on one cluster."""

    domain: str
    environment: str
    binding: tuple[str, str]
    deletion_policy: str
    namespaces: list[str] = field(default_factory=list)
    children: list[Desired] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    frozen: bool = False  # grants nothing new; revocations and corrections still happen
    hold: bool = False  # its binding or domain cannot be parsed: everything of it is left exactly as it is
    domain_uid: str = ""
    # RoleBinding name -> (ClusterRole, subjects) the binding's valid part grants in each namespace:
    # the most a frozen tenant's RoleBindings may keep.
    grants: dict[str, tuple[str, list[dict[str, str]]]] = field(default_factory=dict)
    # A held tenant (unparseable binding): the domain's departments and their members, so that
    # revocations the platform makes still happen (None: the domain is unparseable too).
    departments: dict[str, list[dict[str, str]]] | None = None
    workspace: dict[str, Any] | None = None
    generations: tuple[int, int] = (0, 0)  # (domain, binding) generations this plan was made from
    # The Workspace listing ``namespaces``, built with the plan (see :meth:`keeping`).
    workspace_object: Desired | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, self.environment)

    @property
    def objects(self) -> list[Desired]:
        """Everything to apply: the Workspace (listing the namespaces kept) first, then the rest."""
        if self.workspace is None:
            return []
        return [self.workspace_object or self.build_workspace(), *self.children]

    def build_workspace(self) -> Desired:
        """The Workspace object for this plan's namespaces (pure: builds it, stores nothing)."""
        spec = {**(self.workspace or {}), "namespaces": list(self.namespaces)}
        labels = tenant_labels(self.domain, self.environment)
        annotations = {names.ANNOTATION_DOMAIN_UID: self.domain_uid}
        name = names.workspace_name(self.domain, self.environment)
        return build(names.KIND_WORKSPACE, name, None, labels, {"spec": spec}, annotations)

    def keeping(self, namespaces: list[str], children: list[Desired], problems: list[Problem]) -> TenantPlan:
        """A copy that keeps only ``namespaces`` (and ``children``), with ``problems``; its Workspace
        is built again only when the namespaces it lists changed."""
        copy = replace(self, namespaces=namespaces, children=children, problems=problems)
        if self.workspace is not None and namespaces != self.namespaces:
            copy.workspace_object = copy.build_workspace()
        return copy


def effective_policy(domain: DomainRecord, binding: BindingRecord, settings: Settings) -> tuple[str, list[Problem]]:
    """The binding's deletion policy (else the domain's); Delete is refused in protected environments."""
    assert domain.spec is not None
    assert binding.spec is not None
    policy = binding.spec.deletion_policy or domain.spec.deletion_policy
    if policy == "Delete" and settings.is_protected_environment(binding.spec.environment):
        return "Retain", [
            Problem(
                names.Reason.DELETION_BLOCKED,
                f"deletionPolicy Delete is not allowed in the protected environment "
                f"{binding.spec.environment!r}: namespaces will be retained",
            )
        ]
    return policy, []


def _allowed_roles(settings: Settings) -> set[str]:
    return (set(names.BUILTIN_ROLES) | set(settings.allowed_cluster_roles)) - set(names.FORBIDDEN_ROLES)


def grantable(entry: AccessEntry, domain: DomainRecord, settings: Settings) -> bool:
    """Whether an access entry may grant anything: a known department, a role the platform allows."""
    assert domain.spec is not None
    return domain.spec.department(entry.department) is not None and entry.role in _allowed_roles(settings)


def deployer_allowed(subject: Subject, settings: Settings) -> bool:
    """Deployers are pipeline identities: ServiceAccounts in the namespaces the platform names."""
    return subject.kind == "ServiceAccount" and subject.namespace in settings.deployer_namespaces


def validate(domain: DomainRecord, binding: BindingRecord, settings: Settings) -> list[Problem]:
    """Problems that freeze the tenant: nothing new is granted until they are fixed."""
    assert domain.spec is not None
    assert binding.spec is not None
    problems = []
    allowed = _allowed_roles(settings)
    for subject in binding.spec.deployers:
        if not deployer_allowed(subject, settings):
            where = ", ".join(settings.deployer_namespaces) or "none"
            problems.append(
                Problem(
                    names.Reason.DEPLOYER_NOT_ALLOWED,
                    f"deployer {subject.kind} {subject.name!r} is not allowed: deployers are ServiceAccounts "
                    f"in the platform's pipeline namespaces ({where})",
                )
            )
    granted = [m for e in binding.spec.access if (d := domain.spec.department(e.department)) for m in d.members]
    for message in subject_problems([*binding.spec.deployers, *granted], settings):
        problems.append(Problem(names.Reason.SUBJECT_NOT_ALLOWED, f"{message}: it is never granted access"))
    for entry in binding.spec.access:
        if domain.spec.department(entry.department) is None:
            known = ", ".join(d.name for d in domain.spec.departments) or "none"
            problems.append(
                Problem(
                    names.Reason.UNKNOWN_DEPARTMENT,
                    f"access names department {entry.department!r}, which this domain does not have "
                    f"(departments: {known})",
                )
            )
        if entry.role not in allowed:
            problems.append(
                Problem(
                    names.Reason.ROLE_NOT_ALLOWED,
                    f"role {entry.role!r} for department {entry.department!r} is not allowed; "
                    f"allowed roles: {', '.join(sorted(allowed))}",
                )
            )
    problems.extend(limit_problems(domain.spec, binding.spec))
    for project in domain.spec.project_names(domain.name, binding.spec.environment):
        namespace = binding.spec.namespace_for(domain.name, project)
        if len(namespace) > MAX_NAME:
            problems.append(
                Problem(
                    names.Reason.INVALID_SPEC,
                    f"namespace {namespace!r} (from template {binding.spec.namespace_template!r}) is longer "
                    f"than {MAX_NAME} characters",
                )
            )
        elif not _DNS_LABEL.match(namespace):
            problems.append(
                Problem(
                    names.Reason.INVALID_SPEC,
                    f"namespace {namespace!r} (from template {binding.spec.namespace_template!r}) is not a DNS "
                    "label: lowercase letters, digits and '-', starting and ending with a letter or digit",
                )
            )
    return problems


def _limit_range(limits: Limits) -> dict[str, Any] | None:
    item: dict[str, Any] = {"type": "Container"}
    for attr, key in (
        ("default", "default"),
        ("default_request", "defaultRequest"),
        ("max", "max"),
        ("min", "min"),
    ):
        value = getattr(limits, attr)
        if value:
            item[key] = dict(sorted(value.items()))
    return {"spec": {"limits": [item]}} if len(item) > 1 else None


def namespace_labels(domain: DomainRecord, environment: str, project: str, settings: Settings) -> dict[str, str]:
    """A tenant namespace's labels: the tenant's, its project, its Pod Security level, protection."""
    level = settings.pod_security_level(environment)
    labels = {
        **tenant_labels(domain.name, environment),
        names.LABEL_PROJECT: project,
        names.LABEL_POD_SECURITY_ENFORCE: level,
        names.LABEL_POD_SECURITY_WARN: level,
        names.LABEL_POD_SECURITY_AUDIT: level,
    }
    if settings.is_protected_environment(environment):
        labels[names.LABEL_PROTECTED] = "true"
    return labels


def desired_tenant(domain: DomainRecord, binding: BindingRecord, settings: Settings) -> TenantPlan:
    """The full desired set for ``domain`` bound by ``binding`` on any one cluster it selects.

    A binding with problems is planned from its valid part only (known departments, allowed
    roles and deployers, valid namespace names) and marked frozen.
    """
    assert domain.spec is not None
    assert binding.spec is not None
    spec, bspec = domain.spec, binding.spec
    environment = bspec.environment
    policy, policy_problems = effective_policy(domain, binding, settings)
    plan = TenantPlan(
        domain.name,
        environment,
        binding.key,
        policy,
        problems=policy_problems,
        generations=(domain.generation, binding.generation),
        domain_uid=domain.uid,
    )
    problems = validate(domain, binding, settings)
    if problems:
        plan.problems.extend(problems)
        plan.frozen = True
    access = [e for e in bspec.access if grantable(e, domain, settings)]
    deployers = [s for s in bspec.deployers if deployer_allowed(s, settings)]
    plan.grants = _grants(domain, access, deployers, settings)

    labels = tenant_labels(domain.name, environment)
    limits = capped_limits(spec, (spec.limits or Limits()).merged(bspec.limits))  # a no-op unless frozen
    limit_range = _limit_range(limits)
    annotations = {
        names.ANNOTATION_DELETION_POLICY: policy,
        names.ANNOTATION_DISPLAY_NAME: spec.display_name,
        names.ANNOTATION_DOMAIN_UID: domain.uid,
    }

    for project in spec.project_names(domain.name, environment):
        namespace = bspec.namespace_for(domain.name, project)
        if len(namespace) > MAX_NAME or not _DNS_LABEL.match(namespace):
            continue  # reported by validate()
        if settings.is_protected_namespace(namespace):
            plan.problems.append(
                Problem(names.Reason.NAMESPACE_PROTECTED, f"namespace {namespace!r} is protected by the platform")
            )
            continue
        plan.namespaces.append(namespace)
        ns_labels = namespace_labels(domain, environment, project, settings)
        plan.children.append(build("Namespace", namespace, None, ns_labels, {}, annotations))
        plan.children.extend(role_binding(name, namespace, labels, *grant) for name, grant in plan.grants.items())
        quota = namespace_hard(spec, bspec, project)
        if quota:
            plan.children.append(
                build(
                    "ResourceQuota",
                    names.QUOTA_NAME,
                    namespace,
                    labels,
                    {"spec": {"hard": dict(sorted(quota.items()))}},
                )
            )
        if limit_range:
            plan.children.append(build("LimitRange", names.LIMITS_NAME, namespace, labels, limit_range))
        if spec.network_isolation:
            plan.children.append(_isolation(namespace, labels, domain.name, environment))

    plan.workspace = _workspace_spec(domain, plan)
    plan.workspace_object = plan.build_workspace()
    return plan


def _grants(
    domain: DomainRecord, access: list[AccessEntry], deployers: list[Subject], settings: Settings
) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """Every RoleBinding a tenant namespace gets: name -> (ClusterRole, subjects)."""
    assert domain.spec is not None
    out = {}
    for entry in access:
        department = domain.spec.department(entry.department)
        members = allowed_subjects(department.members, settings) if department else []
        if not members:
            continue
        name = f"{names.DEPARTMENT_BINDING_PREFIX}{entry.department}:{entry.role}"
        out[name] = (names.role_cluster_role(entry.role), [s.to_rbac() for s in members])
    deployers = allowed_subjects(deployers, settings)
    if deployers:
        out[names.DEPLOYERS_BINDING] = (names.role_cluster_role("deployer"), [s.to_rbac() for s in deployers])
    return out


def role_binding(
    name: str, namespace: str, labels: dict[str, str], cluster_role: str, subjects: list[dict[str, str]]
) -> Desired:
    # roleRef is immutable: the role is part of the name, so a changed role is a new binding
    # and the old one is pruned.
    content = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": subjects,
    }
    return build("RoleBinding", name, namespace, labels, content)


def _isolation(namespace: str, labels: dict[str, str], domain: str, environment: str) -> Desired:
    peers = {"namespaceSelector": {"matchLabels": {names.LABEL_DOMAIN: domain, names.LABEL_ENVIRONMENT: environment}}}
    content = {"spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [peers]}]}}
    return build("NetworkPolicy", names.NETWORK_POLICY_NAME, namespace, labels, content)


def _workspace_spec(domain: DomainRecord, plan: TenantPlan) -> dict[str, Any]:
    assert domain.spec is not None
    spec: dict[str, Any] = {
        "domain": domain.name,
        "displayName": domain.spec.display_name,
        "environment": plan.environment,
        "owners": [o.to_wire() for o in domain.spec.owners],
        "deletionPolicy": plan.deletion_policy,
    }
    if domain.spec.description:
        spec["description"] = domain.spec.description
    return spec
