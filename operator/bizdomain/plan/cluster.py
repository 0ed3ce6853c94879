"""The whole desired state of one member cluster, from everything known about the host.

:func:`plan_cluster` is what a cluster worker calls before every sync. It picks the
bindings that place their domain on the cluster (only ever on members that serve the
binding's environment), builds each tenant's footprint, and lists, per namespace name,
every tenant that wants it in a deterministic order. Who gets a namespace is decided
against what exists on the member, in one place: :mod:`bizdomain.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan.budget import binding_source, judge
from bizdomain.plan.inputs import BindingRecord, DomainRecord, MemberRecord, World
from bizdomain.plan.objects import Desired
from bizdomain.plan.problems import Problem
from bizdomain.plan.roles import desired_platform_roles, desired_workspace_crd
from bizdomain.plan.subjects import allowed_subjects
from bizdomain.plan.tenant import TenantPlan, desired_tenant


@dataclass
class ClusterPlan:
    cluster: str
    platform: list[Desired]
    crd: Desired
    tenants: dict[tuple[str, str], TenantPlan] = field(default_factory=dict)
    # namespace -> the tenants that want it on this cluster, the oldest claim first (over every
    # tenant, also those a partial plan leaves out, so a partial pass decides as a full one).
    claimants: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # domain -> the domain uids whose objects are that domain's (its own, and those it adopts), for
    # every domain on the host: objects recorded for any other uid are never touched.
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Whether the member serves a protected environment: then no namespace on it is ever deleted.
    protected: bool = False

    def scoped(self, domains: frozenset[str]) -> ClusterPlan:
        """Only these domains' tenants (no platform objects): what a partial pass converges."""
        tenants = {key: tenant for key, tenant in self.tenants.items() if key[0] in domains}
        return replace(self, platform=[], tenants=tenants)


def domain_for_namespace(namespace: str, settings: Settings) -> str | None:
    """The domain whose bindings live in ``namespace``, or None if it is not a domain namespace."""
    prefix = settings.domain_namespace_prefix
    if namespace.startswith(prefix) and len(namespace) > len(prefix):
        return namespace[len(prefix) :]
    return None


def binding_domain(binding: BindingRecord, world: World, settings: Settings) -> DomainRecord | None:
    name = domain_for_namespace(binding.namespace, settings)
    return world.domains.get(name) if name else None


def selects(binding: BindingRecord, member: MemberRecord) -> bool:
    """Whether ``binding`` places its domain on ``member``: only ever a member that serves the
    binding's environment; cluster names or a selector narrow that set, never widen it."""
    if binding.spec is None or member.spec is None:
        return False
    if binding.spec.environment not in member.spec.environments:
        return False
    selection = binding.spec.clusters
    if selection is not None and selection.names is not None:
        return member.name in selection.names
    if selection is not None and selection.selector is not None:
        return selection.selector.matches(member.labels)
    return True


def foreign_clusters(binding: BindingRecord, world: World) -> list[str]:
    """Cluster names a binding lists that exist but do not serve its environment."""
    if binding.spec is None or binding.spec.clusters is None or binding.spec.clusters.names is None:
        return []
    env = binding.spec.environment
    return [
        n
        for n in binding.spec.clusters.names
        if (m := world.members.get(n)) is not None and m.spec is not None and env not in m.spec.environments
    ]


def unknown_clusters(binding: BindingRecord, world: World) -> list[str]:
    """Cluster names a binding lists that no MemberCluster has."""
    if binding.spec is None or binding.spec.clusters is None or binding.spec.clusters.names is None:
        return []
    return [n for n in binding.spec.clusters.names if n not in world.members]


def binding_clusters(binding: BindingRecord, world: World) -> list[str]:
    """The member clusters a binding selects, sorted."""
    return sorted(m.name for m in world.members.values() if not m.deleting and selects(binding, m))


def _frozen(domain: DomainRecord, binding: BindingRecord, problem: Problem, settings: Settings) -> TenantPlan:
    """A tenant whose binding (or domain) cannot be parsed: held as it is, except that the people
    the platform removed from a department (or whole departments) still lose their rights."""
    environment = binding.spec.environment if binding.spec else binding.name
    departments = None
    if domain.spec is not None:
        departments = {
            d.name: [s.to_rbac() for s in allowed_subjects(d.members, settings)] for d in domain.spec.departments
        }
    return TenantPlan(
        domain.name,
        environment,
        binding.key,
        "Retain",
        problems=[problem],
        frozen=True,
        hold=True,
        generations=(domain.generation, binding.generation),
        domain_uid=domain.uid,
        departments=departments,
    )


@dataclass
class _Memo:
    domain: DomainRecord
    binding: BindingRecord
    settings: Settings
    plan: TenantPlan


# (domain, binding) -> the tenant planned from these records. A tenant is the same on every
# cluster it is bound to, and depends only on the records' names, generations and parsed specs
# (compared by reference, so the check can never be fooled: records keep the same spec object
# while the spec is unchanged, through any number of status writes). The thousands of
# unchanged tenants of a pass are planned once, not once per pass and cluster.
_memo: dict[tuple[str, tuple[str, str]], _Memo] = {}


def _same(old: DomainRecord | BindingRecord, new: DomainRecord | BindingRecord) -> bool:
    return old is new or (old.spec is new.spec and old.generation == new.generation and old.uid == new.uid)


def _tenant(domain: DomainRecord, binding: BindingRecord, settings: Settings) -> TenantPlan:
    """The memoized tenant: shared, never to be changed (see :func:`_own`)."""
    key = (domain.name, binding.key)
    hit = _memo.get(key)
    if hit is None or not _same(hit.domain, domain) or not _same(hit.binding, binding) or hit.settings is not settings:
        if len(_memo) > 100_000:
            _memo.clear()
        hit = _Memo(domain, binding, settings, desired_tenant(domain, binding, settings))
        _memo[key] = hit
    return hit.plan


def within_budget(tenant: TenantPlan, domain: DomainRecord, binding: BindingRecord, world: World) -> TenantPlan:
    """The tenant, frozen (``BudgetExceeded``) when its namespaces on every cluster it selects
    do not fit the domain's budget of its environment (see :mod:`bizdomain.plan.budget`)."""
    assert domain.spec is not None
    assert binding.spec is not None
    budget = domain.spec.budget(binding.spec.environment)
    if budget is None:
        return tenant
    source = binding_source(domain.name, domain.spec, binding.spec, binding_clusters(binding, world))
    problems = judge(binding.spec.environment, budget, [source]).problems.get(source.key)
    if not problems:
        return tenant
    return replace(tenant, frozen=True, problems=[*tenant.problems, *problems])


def plan_cluster(
    member: MemberRecord, world: World, settings: Settings, scope: frozenset[str] | None = None
) -> ClusterPlan:
    """Everything ``member`` should hold: the platform roles and every bound tenant's footprint.

    With ``scope``, only those domains' tenants are in the plan; the namespace claims are still
    settled over every tenant, so a partial plan agrees with the full one.
    """
    plan = ClusterPlan(cluster=member.name, platform=desired_platform_roles(), crd=desired_workspace_crd())
    candidates: list[tuple[tuple[str, str, str, str], DomainRecord, BindingRecord]] = []
    for binding in world.bindings.values():
        domain = binding_domain(binding, world, settings)
        if domain is None or domain.deleting or binding.deleting:
            continue  # nothing desired: whatever is left there is pruned by its recorded policy
        if domain.spec is None or binding.spec is None:
            # Unparseable: the schema should have refused it; never act on half an object.
            reason = domain.error or binding.error or "unparseable spec"
            environment = binding.spec.environment if binding.spec else binding.name
            plan.tenants[(domain.name, environment)] = _frozen(
                domain, binding, Problem(names.Reason.INVALID_SPEC, reason), settings
            )
            continue
        if not selects(binding, member):
            continue
        order = (domain.created, domain.name, binding.created, binding.spec.environment)
        candidates.append((order, domain, binding))

    protected = member.spec is not None and any(
        settings.is_protected_environment(env) for env in member.spec.environments
    )
    plan.protected = protected
    plan.owners = {d.name: (d.uid, *d.adopts) for d in world.domains.values()}
    for _, domain, binding in sorted(candidates, key=lambda c: c[0]):
        tenant = within_budget(_tenant(domain, binding, settings), domain, binding, world)
        for namespace in tenant.namespaces:
            plan.claimants.setdefault(namespace, []).append(tenant.key)
        if scope is None or domain.name in scope:
            plan.tenants[tenant.key] = tenant
    # Sandboxes after every baseline: a baseline's claim on a name always comes first.
    from bizdomain.plan.sandbox import add_sandboxes  # noqa: PLC0415  (plan.sandbox builds on this module)

    add_sandboxes(plan, member, world, settings, scope)
    return plan
