"""What freezes a tenant, and what the valid part of its binding grants. Pure.

A binding is untrustworthy while it names an unknown department, a role the platform does not
allow, a deployer or subject the platform does not allow, limits past the domain's, or a
namespace name that is no DNS label: :func:`validate` lists those problems, and a tenant that
has any is *frozen*. :func:`binding_grants` is what the binding may grant all the same (known
departments with allowed roles, allowed deployers, allowed subjects): the most a frozen
tenant's RoleBindings keep. :func:`effective_policy` is the deletion policy that governs.

Called by :mod:`bizdomain.plan.tenant` and :mod:`bizdomain.plan.sandbox`.
"""

from __future__ import annotations

import re

from bizdomain import names
from bizdomain.api.binding import AccessEntry
from bizdomain.api.common import DNS_LABEL, Subject
from bizdomain.config import Settings
from bizdomain.plan.budget import limit_problems
from bizdomain.plan.inputs import BindingRecord, DomainRecord
from bizdomain.plan.problems import Problem
from bizdomain.plan.subjects import allowed_subjects, subject_problems

MAX_NAME = 63
_DNS_LABEL = re.compile(DNS_LABEL)


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


def valid_namespace(namespace: str) -> bool:
    """Whether a namespace name is one the planner may use (else :func:`validate` says why)."""
    return len(namespace) <= MAX_NAME and bool(_DNS_LABEL.match(namespace))


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


def binding_grants(
    domain: DomainRecord, binding: BindingRecord, settings: Settings
) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """Every RoleBinding a tenant namespace gets from the valid part of ``binding``:
    name -> (ClusterRole, subjects)."""
    assert domain.spec is not None
    assert binding.spec is not None
    access = [e for e in binding.spec.access if grantable(e, domain, settings)]
    out = {}
    for entry in access:
        department = domain.spec.department(entry.department)
        members = allowed_subjects(department.members, settings) if department else []
        if not members:
            continue
        name = f"{names.DEPARTMENT_BINDING_PREFIX}{entry.department}:{entry.role}"
        out[name] = (names.role_cluster_role(entry.role), [s.to_rbac() for s in members])
    deployers = [s for s in binding.spec.deployers if deployer_allowed(s, settings)]
    deployers = allowed_subjects(deployers, settings)
    if deployers:
        out[names.DEPLOYERS_BINDING] = (names.role_cluster_role("deployer"), [s.to_rbac() for s in deployers])
    return out
