"""Sandboxes on a member: each one a tenant of its own, planned like a baseline binding. Pure.

A sandbox of domain ``d`` based on environment ``dev`` is the tenant ``(d, "dev--<sandbox>")``:
its member objects carry that environment label, so the decide step's rules apply unchanged
(a namespace keeps its owner by domain uid and tenant; prune only what is ours; a frozen
tenant creates and grants nothing). ``--`` is reserved (api/sandbox.py), so a sandbox's tenant
and namespaces (``{project}--{sandbox}``) can never be a baseline's or another sandbox's.

Its namespaces carry the base binding's access matrix and deployers, its owner as ``admin``
(RoleBinding ``bizdomain.io:sandbox-owner:admin``), the base environment's Pod Security level,
the sandbox's quota (else the platform's profile) and ``deletion-policy: Delete``, and are
labelled with the sandbox's name and uid. Their quotas count against the domain's budget of the
base environment, judged by :func:`bizdomain.plan.budget.judge` after the baseline (which is never
squeezed) and after older sandboxes: one that does not fit is frozen (``BudgetExceeded``).

Its life (expiry, phase) is :mod:`.sandbox_lifetime`'s. Called by
:func:`bizdomain.plan.cluster.plan_cluster` (:func:`add_sandboxes`), by the sandbox status writer
(:func:`desired_sandbox`, :func:`tenant_environment`) and the sandbox keeper (:func:`tenant_environment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bizdomain import names
from bizdomain.api.common import Limits, Subject
from bizdomain.api.sandbox import SEPARATOR, sandbox_namespace, ttl_seconds
from bizdomain.config import Settings
from bizdomain.plan.budget import Share, Source, binding_source, judge, total
from bizdomain.plan.children import Footprint, limit_range, namespace_labels, namespace_objects
from bizdomain.plan.cluster import ClusterPlan, domain_for_namespace
from bizdomain.plan.inputs import BindingRecord, DomainRecord, MemberRecord, SandboxRecord, World
from bizdomain.plan.kept import going, holding, released_source
from bizdomain.plan.placement import binding_clusters, selects
from bizdomain.plan.problems import Problem
from bizdomain.plan.sandbox_lifetime import too_long
from bizdomain.plan.subjects import allowed_subjects
from bizdomain.plan.tenant import TenantPlan, workspace_spec
from bizdomain.plan.validation import MAX_NAME, binding_grants, validate

OWNER_BINDING = f"{names.ROLE_PREFIX}sandbox-owner:admin"


def tenant_environment(environment: str, sandbox: str) -> str:
    """The tenant environment of a sandbox (never a baseline's: environments hold no ``--``)."""
    return f"{environment}{SEPARATOR}{sandbox}"


def owner_subject(owner: str) -> Subject | None:
    """The owner as an RBAC subject (None: an identity that may never be granted anything)."""
    prefix = "system:serviceaccount:"
    try:
        if owner.startswith(prefix) and owner.count(":") == 3:
            namespace, name = owner[len(prefix) :].split(":")
            return Subject(kind="ServiceAccount", name=name, namespace=namespace)
        return Subject(kind="User", name=owner)
    except ValueError:
        return None


def projects(domain: DomainRecord, sandbox: SandboxRecord) -> list[str]:
    assert domain.spec is not None
    assert sandbox.spec is not None
    base = domain.spec.project_names(domain.name, sandbox.spec.environment)
    return [p for p in base if sandbox.spec.projects is None or p in sandbox.spec.projects]


def sandbox_problems(domain: DomainRecord, sandbox: SandboxRecord, settings: Settings) -> list[Problem]:
    """What freezes a sandbox: a place or lifetime the platform does not allow, an unknown project."""
    assert domain.spec is not None
    assert sandbox.spec is not None
    spec, problems = sandbox.spec, []
    env = spec.environment
    if not settings.sandbox_allowed(env):
        allowed = ", ".join(e for e in settings.sandbox_environments if settings.sandbox_allowed(e)) or "none"
        problems.append(
            Problem(
                names.Reason.SANDBOX_NOT_ALLOWED,
                f"sandboxes are not allowed in environment {env!r} (the platform allows: {allowed})",
            )
        )
    if ttl_seconds(spec.ttl) > settings.sandbox_max_lifetime_hours * 3600 or too_long(sandbox, settings):
        problems.append(
            Problem(
                names.Reason.SANDBOX_NOT_ALLOWED,
                f"a sandbox may live at most {settings.sandbox_max_lifetime_hours}h from its creation",
            )
        )
    base = domain.spec.project_names(domain.name, env)
    unknown = [p for p in spec.projects or [] if p not in base]
    if unknown:
        problems.append(
            Problem(
                names.Reason.INVALID_SPEC,
                f"projects {', '.join(unknown)} are not projects of this domain in {env} ({', '.join(base) or 'none'})",
            )
        )
    for project in projects(domain, sandbox):
        namespace = sandbox_namespace(project, sandbox.name)
        if len(namespace) > MAX_NAME:
            problems.append(
                Problem(names.Reason.INVALID_SPEC, f"namespace {namespace!r} is longer than {MAX_NAME} characters")
            )
    return problems


def desired_sandbox(
    domain: DomainRecord, binding: BindingRecord, sandbox: SandboxRecord, settings: Settings
) -> TenantPlan:
    """The full desired set of one sandbox on any one cluster its base binding selects."""
    assert domain.spec is not None
    assert binding.spec is not None
    assert sandbox.spec is not None
    spec, bspec = domain.spec, binding.spec
    base_env = bspec.environment
    environment = tenant_environment(base_env, sandbox.name)
    plan = TenantPlan(
        domain.name,
        environment,
        sandbox.key,
        "Delete",
        generations=(domain.generation, sandbox.generation),
        domain_uid=domain.uid,
    )
    problems = [*validate(domain, binding, settings), *sandbox_problems(domain, sandbox, settings)]
    if problems:
        plan.problems.extend(problems)
        plan.frozen = True
    plan.grants = binding_grants(domain, binding, settings)
    owner = owner_subject(sandbox.spec.owner)
    if owner is not None and allowed_subjects([owner], settings):
        plan.grants[OWNER_BINDING] = (names.role_cluster_role("admin"), [owner.to_rbac()])

    footprint = Footprint(
        domain.name,
        environment,
        annotations={
            names.ANNOTATION_DELETION_POLICY: "Delete",
            names.ANNOTATION_DISPLAY_NAME: spec.display_name,
            names.ANNOTATION_DOMAIN_UID: domain.uid,
        },
        grants=plan.grants,
        limit_range=limit_range((spec.limits or Limits()).merged(bspec.limits)),
        isolated=spec.network_isolation,
    )
    quota = dict(sandbox.spec.quota or settings.sandbox_quota_profile())
    for project in projects(domain, sandbox):
        namespace = sandbox_namespace(project, sandbox.name)
        if len(namespace) > MAX_NAME:
            continue  # reported by sandbox_problems()
        plan.namespaces.append(namespace)
        ns_labels = {
            **namespace_labels(domain, base_env, project, settings),
            names.LABEL_ENVIRONMENT: environment,
            names.LABEL_SANDBOX: sandbox.name,
            names.LABEL_SANDBOX_UID: sandbox.uid,
        }
        plan.children.extend(namespace_objects(footprint, namespace, ns_labels, quota))
    plan.workspace = workspace_spec(domain, plan)
    return plan


def _held(domain: DomainRecord, sandbox: SandboxRecord, settings: Settings) -> list[TenantPlan]:
    """An unparseable sandbox (or one whose base is gone): everything of it is left as it is."""
    problem = Problem(names.Reason.INVALID_SPEC, sandbox.error or "unparseable spec")
    if sandbox.spec is not None:
        problem = Problem(
            names.Reason.BASE_NOT_FOUND,
            f"its base environment {sandbox.spec.environment!r} has no EnvironmentBinding in this domain",
        )
    envs = [sandbox.spec.environment] if sandbox.spec is not None else list(settings.sandbox_environments)
    return [
        TenantPlan(
            domain.name,
            tenant_environment(env, sandbox.name),
            sandbox.key,
            "Delete",
            problems=[problem],
            frozen=True,
            hold=True,
            domain_uid=domain.uid,
        )
        for env in envs
    ]


def add_sandboxes(
    plan: ClusterPlan, member: MemberRecord, world: World, settings: Settings, scope: frozenset[str] | None
) -> None:
    """Every sandbox on ``member`` (a member its base binding selects), oldest first, into ``plan``."""
    judged: dict[tuple[str, str], dict[str, list[Problem]]] = {}
    for sandbox in sorted(world.sandboxes.values(), key=lambda s: (s.created, s.namespace, s.name)):
        domain = world.domains.get(domain_for_namespace(sandbox.namespace, settings) or "")
        if domain is None or domain.deleting or domain.spec is None or sandbox.deleting:
            continue  # nothing desired: its namespaces go by their recorded policy (Delete)
        binding = world.bindings.get((sandbox.namespace, sandbox.spec.environment)) if sandbox.spec else None
        if sandbox.spec is None or binding is None or binding.spec is None or binding.deleting:
            tenants = _held(domain, sandbox, settings)
        elif not selects(binding, member):
            continue
        else:
            tenant = desired_sandbox(domain, binding, sandbox, settings)
            budget_key = (domain.name, binding.spec.environment)
            if budget_key not in judged:
                judged[budget_key] = _judge(domain, binding, world, settings)
            over = judged[budget_key].get(f"{names.KIND_SANDBOX}/{sandbox.name}")
            if over:
                tenant.problems.extend(over)
                tenant.frozen = True
            tenants = [tenant]
        for tenant in tenants:
            for namespace in tenant.namespaces:
                plan.claimants.setdefault(namespace, []).append(tenant.key)
            if scope is None or domain.name in scope:
                plan.tenants[tenant.key] = tenant


def _judge(domain: DomainRecord, binding: BindingRecord, world: World, settings: Settings) -> dict[str, list[Problem]]:
    """The budget rule over the baseline, then every sandbox of this environment, oldest first."""
    assert domain.spec is not None
    assert binding.spec is not None
    environment = binding.spec.environment
    budget = domain.spec.budget(environment)
    if budget is None:
        return {}
    siblings = [
        b
        for b in world.bindings.values()
        if b.namespace == binding.namespace
        and b.spec is not None
        and b.spec.environment == environment
        and not b.deleting
    ]
    verdict = judge(environment, budget, budget_sources(domain, environment, siblings, world, settings))
    return {key: problems for key, problems in verdict.problems.items() if key.startswith(names.KIND_SANDBOX)}


def landed(sandbox: SandboxRecord) -> bool:
    """Whether the operator reported the sandbox in place (its quotas are on the members)."""
    return sandbox.status.get("phase") in {"Ready", "Expiring"}


def budget_sources(
    domain: DomainRecord, environment: str, siblings: Sequence[BindingRecord], world: World, settings: Settings
) -> list[Source]:
    """Every source of a domain's budget in ``environment``, in priority order: the baseline (every
    binding of the environment together), then each sandbox, oldest first, then what released
    namespaces keep. The baseline holds the larger of what it asks and what its members' quotas hold
    now; a sandbox what its members' quotas hold (its ask where none is reported yet and it landed),
    so no source grows into room another still holds, whatever that one's spec now says, and a
    sandbox asking for more than fits freezes only itself (:func:`bizdomain.plan.kept.holding`)."""
    assert domain.spec is not None
    kept = world.kept.get((domain.name, environment), ())
    shares: list[Share] = []
    policies: dict[str, str] = {}  # member -> the policy that prunes there (any binding's Retain wins)
    for sibling in siblings:
        if sibling.spec is not None:
            clusters = binding_clusters(sibling, world)
            shares.extend(binding_source(domain.name, domain.spec, sibling.spec, clusters).shares)
            policy = sibling.spec.deletion_policy or domain.spec.deletion_policy
            policies.update({c: "Retain" if "Retain" in (policy, policies.get(c)) else policy for c in clusters})
    baseline = tuple(shares)
    resources = {r for share in baseline for r in share.hard} | set(domain.spec.budget(environment) or {})
    sources = [Source(f"{names.KIND_BINDING}/{environment}", baseline)]
    namespace = settings.domain_namespace(domain.name)
    base = world.bindings.get((namespace, environment))
    if base is not None and base.spec is not None:
        clusters = binding_clusters(base, world)
        for sandbox in world.sandboxes_by_namespace.get(namespace, ()):
            if sandbox.spec is None or sandbox.deleting:
                continue
            if sandbox.spec.environment != environment:
                continue
            quota = dict(sandbox.spec.quota or settings.sandbox_quota_profile())
            names_ = [sandbox_namespace(p, sandbox.name) for p in projects(domain, sandbox)]
            own = tuple(Share(c, n, quota) for n in names_ for c in clusters)
            held = holding(own, kept, resources | set(quota), asked=landed(sandbox), now=True)
            sources.append(Source(f"{names.KIND_SANDBOX}/{sandbox.name}", own, held))
    # The baseline holds what it asks or what its members hold, whichever is more (counted high,
    # never low), and what the namespaces it deletes hold until they are gone. Last, what the members
    # hold outside all of that (released namespaces keep their quota, as do those no binding selects
    # any more, by the policy recorded on them): held whatever the plan says, never squeezed.
    placed = [share for source in sources for share in source.shares]
    gone = total(going(kept, placed, policies), resources)
    held = holding(baseline, kept, resources)
    sources[0] = replace(sources[0], held={r: held[r] + gone[r] for r in resources})
    released = released_source(kept, placed, policies)
    return [*sources, released] if released is not None else sources
