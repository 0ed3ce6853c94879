"""One domain in one environment on one cluster: its whole desired footprint.

Called by :mod:`bizdomain.plan.cluster` for every (binding, cluster) pair. Pure: the
same records always give the same objects, in the same order. Problems that make the
binding untrustworthy (an unknown department, a role the platform does not allow, a
deployer the platform does not allow) *freeze* the tenant, and a frozen tenant fails safe:
its plan is built from the valid part of the binding only, and the decide step
(:mod:`bizdomain.decide`) lets it revoke and correct but never grant anything new. What
freezes it and what it may grant: :mod:`.validation`; what each namespace holds: :mod:`.children`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bizdomain import names
from bizdomain.api.common import Limits
from bizdomain.config import Settings
from bizdomain.plan.budget import capped_limits, namespace_hard
from bizdomain.plan.children import Footprint, limit_range, namespace_labels, namespace_objects
from bizdomain.plan.inputs import BindingRecord, DomainRecord
from bizdomain.plan.objects import Desired, build, tenant_labels
from bizdomain.plan.problems import Problem
from bizdomain.plan.validation import binding_grants, effective_policy, valid_namespace, validate


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
    plan.grants = binding_grants(domain, binding, settings)

    limits = capped_limits(spec, (spec.limits or Limits()).merged(bspec.limits))  # a no-op unless frozen
    footprint = Footprint(
        domain.name,
        environment,
        annotations={
            names.ANNOTATION_DELETION_POLICY: policy,
            names.ANNOTATION_DISPLAY_NAME: spec.display_name,
            names.ANNOTATION_DOMAIN_UID: domain.uid,
        },
        grants=plan.grants,
        limit_range=limit_range(limits),
        isolated=spec.network_isolation,
    )

    for project in spec.project_names(domain.name, environment):
        namespace = bspec.namespace_for(domain.name, project)
        if not valid_namespace(namespace):
            continue  # reported by validate()
        if settings.is_protected_namespace(namespace):
            plan.problems.append(
                Problem(names.Reason.NAMESPACE_PROTECTED, f"namespace {namespace!r} is protected by the platform")
            )
            continue
        plan.namespaces.append(namespace)
        ns_labels = namespace_labels(domain, environment, project, settings)
        quota = namespace_hard(spec, bspec, project)
        plan.children.extend(namespace_objects(footprint, namespace, ns_labels, quota or None))

    plan.workspace = workspace_spec(domain, plan)
    plan.workspace_object = plan.build_workspace()
    return plan


def workspace_spec(domain: DomainRecord, plan: TenantPlan) -> dict[str, Any]:
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
