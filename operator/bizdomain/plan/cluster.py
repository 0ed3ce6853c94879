"""The whole desired state of one member cluster, from everything known about the host.

:func:`plan_cluster` is what a cluster worker calls before every sync. It picks the
bindings that place their domain on the cluster (only ever on members that serve the
binding's environment), builds each tenant's footprint, and lists, per namespace name,
every tenant that wants it in a deterministic order. Who gets a namespace is decided
against what exists on the member, in one place: :mod:`bizdomain.decide`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan.budget import judge, no_room
from bizdomain.plan.inputs import BindingRecord, DomainRecord, MemberRecord, World
from bizdomain.plan.objects import Desired, build
from bizdomain.plan.placement import binding_clusters, selects
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
    # The domains with a budget in some environment: whose kept quotas a pass reports (plan.kept).
    budgeted: frozenset[str] = frozenset()

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
class _Planned:
    domain: DomainRecord
    binding: BindingRecord
    settings: Settings
    plan: TenantPlan


def _same(old: DomainRecord | BindingRecord, new: DomainRecord | BindingRecord) -> bool:
    """Whether ``new`` plans as ``old`` did: same object, uid, generation and (equal) parsed spec."""
    if old is new:
        return True
    return old.uid == new.uid and old.generation == new.generation and (old.spec is new.spec or old.spec == new.spec)


_Judged = tuple[tuple[object, ...], TenantPlan, TenantPlan]  # inputs, the tenant as planned, as judged


class TenantMemo:
    """Tenants already planned, by (domain, binding): owned by the runtime, passed to :func:`plan_cluster`.

    A tenant is the same on every cluster it is bound to and depends only on its records and the
    settings, so the thousands of unchanged tenants of a pass are planned once, not once per pass
    and cluster. A hit is checked against the records themselves (their parsed specs compared by
    value), so it is correct whatever object the caller hands in. The plans it returns are shared:
    never change one (decide makes copies).
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self._planned: dict[tuple[str, tuple[str, str]], _Planned] = {}
        # (tenant, binding) -> what its budget was judged from, and the tenant in and out (two bindings
        # of one environment on different members are two tenants with the same key)
        self._judged: dict[tuple[tuple[str, str], tuple[str, str]], _Judged] = {}

    def __len__(self) -> int:
        return len(self._planned)

    def tenant(self, domain: DomainRecord, binding: BindingRecord, settings: Settings) -> TenantPlan:
        key = (domain.name, binding.key)
        hit = self._planned.get(key)
        fresh = (
            hit is not None
            and _same(hit.domain, domain)
            and _same(hit.binding, binding)
            and (hit.settings is settings or hit.settings == settings)
        )
        if hit is None or not fresh:
            if len(self._planned) > self.LIMIT:
                self._planned.clear()
            hit = _Planned(domain, binding, settings, desired_tenant(domain, binding, settings))
            self._planned[key] = hit
        else:
            # Hold the records the host has now, not the first ones planned: a record is rebuilt on each
            # status write, and the memo must not keep the old ones (and their statuses) alive beside them.
            hit.domain, hit.binding = domain, binding
        return hit.plan

    def within_budget(
        self,
        tenant: TenantPlan,
        domain: DomainRecord,
        siblings: Sequence[BindingRecord],
        world: World,
        settings: Settings,
    ) -> TenantPlan:
        """:func:`within_budget`, judged again only when something it is judged from moved."""
        assert domain.spec is not None
        if domain.spec.budget(tenant.environment) is None:
            return tenant
        inputs = _budget_inputs(tenant.key, domain, siblings, world, settings)
        key = (tenant.key, tenant.binding)
        hit = self._judged.get(key)
        if hit is not None and hit[1] is tenant and hit[0] == inputs:
            return hit[2]
        if len(self._judged) > self.LIMIT:
            self._judged.clear()
        judged = within_budget(tenant, domain, siblings, world, settings)
        self._judged[key] = (inputs, tenant, judged)
        return judged


def _budget_inputs(
    key: tuple[str, str], domain: DomainRecord, siblings: Sequence[BindingRecord], world: World, settings: Settings
) -> tuple[object, ...]:
    """Everything :func:`within_budget` reads, by value (records are rebuilt on every status write; their
    parsed specs usually are the same objects, which tuple equality compares first)."""
    placed: dict[int, tuple[str, ...]] = {}  # the baseline is usually one of the siblings: place it once

    def binding(record: BindingRecord | None) -> tuple[object, ...] | None:
        if record is None:
            return None
        if id(record) not in placed:
            placed[id(record)] = tuple(binding_clusters(record, world))
        return record.uid, record.generation, record.spec, record.deleting, placed[id(record)]

    namespace = settings.domain_namespace(domain.name)
    return (
        settings,
        domain.uid,
        domain.generation,
        domain.spec,
        tuple(binding(b) for b in siblings),
        binding(world.bindings.get((namespace, key[1]))),  # the baseline, whose members its sandboxes land on
        tuple(
            (s.uid, s.name, s.created, s.generation, s.spec, s.deleting, s.status.get("phase"))
            for s in world.sandboxes_by_namespace.get(namespace, ())
        ),
        world.kept.get(key, ()),
    )


def within_budget(
    tenant: TenantPlan, domain: DomainRecord, siblings: Sequence[BindingRecord], world: World, settings: Settings
) -> TenantPlan:
    """The tenant, frozen (``BudgetExceeded``) when the namespaces of every binding of its domain
    and environment (``siblings``), on every cluster each selects, do not fit the domain's budget
    of that environment beside what the domain's landed sandboxes and released namespaces hold
    (see :mod:`bizdomain.plan.budget` and :mod:`bizdomain.plan.kept`). Judged together: a second
    binding of the same environment cannot double the budget, and growth of one freezes them all
    (what they hold stays as it is)."""
    from bizdomain.plan.sandbox import budget_sources  # noqa: PLC0415  (plan.sandbox builds on this module)

    assert domain.spec is not None
    budget = domain.spec.budget(tenant.environment)
    if budget is None:
        return tenant
    sources = budget_sources(domain, tenant.environment, siblings, world, settings)
    problems = judge(tenant.environment, budget, sources).problems.get(sources[0].key)
    if not problems:
        return tenant
    # What exists stays as it is (decide applies no changed quota to a frozen tenant); a quota deleted
    # by hand is made again with no room for the budgeted resources, never at the size refused here.
    children = [_without_room(c, budget) if c.kind == "ResourceQuota" else c for c in tenant.children]
    return replace(tenant, frozen=True, problems=[*tenant.problems, *problems], children=children)


def _without_room(quota: Desired, budget: dict[str, str]) -> Desired:
    body = quota.body
    hard = no_room(body["spec"]["hard"], budget)
    return build(quota.kind, quota.name, quota.namespace, body["metadata"]["labels"], {"spec": {"hard": hard}})


def plan_cluster(
    member: MemberRecord,
    world: World,
    settings: Settings,
    scope: frozenset[str] | None = None,
    *,
    memo: TenantMemo | None = None,
) -> ClusterPlan:
    """Everything ``member`` should hold: the platform roles and every bound tenant's footprint.

    With ``scope``, only those domains' tenants are in the plan; the namespace claims are still
    settled over every tenant, so a partial plan agrees with the full one. ``memo`` keeps the
    tenants planned by earlier calls (without one, every tenant is planned afresh).
    """
    planned = memo if memo is not None else TenantMemo()
    plan = ClusterPlan(cluster=member.name, platform=desired_platform_roles(), crd=desired_workspace_crd())
    candidates: list[tuple[tuple[str, str, str, str], DomainRecord, BindingRecord]] = []
    # Every live binding of a domain x environment, wherever it lands: the budget is theirs together.
    siblings: dict[tuple[str, str], list[BindingRecord]] = {}
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
        siblings.setdefault((domain.name, binding.spec.environment), []).append(binding)
        if not selects(binding, member):
            continue
        order = (domain.created, domain.name, binding.created, binding.spec.environment)
        candidates.append((order, domain, binding))

    protected = member.spec is not None and any(
        settings.is_protected_environment(env) for env in member.spec.environments
    )
    plan.protected = protected
    plan.owners = {d.name: (d.uid, *d.adopts) for d in world.domains.values()}
    plan.budgeted = frozenset(
        d.name for d in world.domains.values() if d.spec is not None and (d.spec.budgets or d.spec.default_budget)
    )
    for _, domain, binding in sorted(candidates, key=lambda c: c[0]):
        tenant = planned.tenant(domain, binding, settings)
        for namespace in tenant.namespaces:
            plan.claimants.setdefault(namespace, []).append(tenant.key)
        if scope is None or domain.name in scope:  # the budget never changes a claim: judged only here
            plan.tenants[tenant.key] = planned.within_budget(tenant, domain, siblings[tenant.key], world, settings)
    # Sandboxes after every baseline: a baseline's claim on a name always comes first.
    from bizdomain.plan.sandbox import add_sandboxes  # noqa: PLC0415  (plan.sandbox builds on this module)

    add_sandboxes(plan, member, world, settings, scope)
    return plan
