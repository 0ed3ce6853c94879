"""Who may make a domain's sandboxes, as the host's RBAC and admission policy read it. Pure.

A member of a department with ``developer`` or ``admin`` in a baseline environment where the
platform allows sandboxes (``Settings.sandbox_environments``, never a protected one) may create,
extend and delete the domain's sandboxes of that environment, and nobody else. Two host objects
say so, both in ``domain-<name>`` (which only the operator and platform admins may change):

- the RoleBinding ``bizdomain.io:sandboxers`` to the chart's ``bizdomain.io:sandbox-creator``
  ClusterRole, for everyone entitled in any allowed environment (RBAC: may touch sandboxes here);
- per allowed environment, the annotation ``sandboxers.bizdomain.io/<environment>`` listing who
  (``User:<name>`` / ``Group:<name>``, one a line) and ``sandbox.bizdomain.io/max-lifetime-seconds``:
  the host policy ``bizdomain-sandboxes`` reads them from namespaceObject and refuses a sandbox of
  another environment, in someone else's name, or living longer.

Called by :mod:`bizdomain.plan.host` (the domain's host namespace and RoleBindings).
"""

from __future__ import annotations

from collections.abc import Iterable

from bizdomain import names
from bizdomain.api.common import Subject
from bizdomain.config import Settings
from bizdomain.plan.inputs import DomainRecord, World
from bizdomain.plan.objects import Desired, build
from bizdomain.plan.subjects import allowed_subjects

SANDBOX_ROLES = ("developer", "admin")


def _entry(subject: Subject) -> str | None:
    """A subject as the admission policy compares it with request.userInfo (None: not expressible)."""
    if "\n" in subject.name:
        return None
    if subject.kind == "ServiceAccount":
        return f"User:system:serviceaccount:{subject.namespace}:{subject.name}"
    return f"{subject.kind}:{subject.name}"


def sandboxers(domain: DomainRecord, world: World, settings: Settings) -> dict[str, list[Subject]]:
    """Per allowed environment with a baseline binding, the subjects that may make sandboxes there."""
    out: dict[str, list[Subject]] = {}
    if domain.spec is None:
        return out
    namespace = settings.domain_namespace(domain.name)
    for environment in settings.sandbox_environments:
        if not settings.sandbox_allowed(environment):
            continue  # never a protected environment, whatever the settings list
        binding = world.bindings.get((namespace, environment))
        if binding is None or binding.spec is None or binding.deleting:
            continue
        subjects: list[Subject] = []
        for entry in binding.spec.access:
            department = domain.spec.department(entry.department)
            if entry.role in SANDBOX_ROLES and department is not None:
                subjects.extend(s for s in department.members if s not in subjects)
        allowed = allowed_subjects(subjects, settings)
        if allowed:
            out[environment] = allowed
    return out


def sandbox_annotations(entitled: dict[str, list[Subject]], settings: Settings) -> dict[str, str]:
    """The host namespace's annotations the sandbox admission policy reads."""
    out = {names.ANNOTATION_SANDBOX_MAX_LIFETIME: str(settings.sandbox_max_lifetime_hours * 3600)}
    for environment, subjects in sorted(entitled.items()):
        lines = [e for e in (_entry(s) for s in subjects) if e is not None]
        out[f"{names.ANNOTATION_SANDBOXERS_PREFIX}{environment}"] = "\n".join(lines)
    return out


def _unique(subjects: Iterable[Subject]) -> list[Subject]:
    out: list[Subject] = []
    for subject in subjects:
        if subject not in out:
            out.append(subject)
    return out


def sandboxers_binding(domain: str, entitled: dict[str, list[Subject]], settings: Settings) -> Desired | None:
    """The RoleBinding of everyone entitled to the sandbox-creator ClusterRole (None: nobody is)."""
    subjects = _unique(s for env in sorted(entitled) for s in entitled[env])
    if not subjects:
        return None
    content = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": names.HOST_SANDBOX_ROLE},
        "subjects": [s.to_rbac() for s in subjects],
    }
    labels = {
        names.LABEL_MANAGED_BY: names.MANAGED_BY_VALUE,
        names.LABEL_COMPONENT: names.COMPONENT_HOST,
        names.LABEL_DOMAIN: domain,
    }
    return build("RoleBinding", names.SANDBOXERS_BINDING, settings.domain_namespace(domain), labels, content)
