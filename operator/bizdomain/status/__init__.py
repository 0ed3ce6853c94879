"""Status of host objects, computed from what the cluster workers last reported.

:func:`binding_status` and :func:`domain_status` are pure: host records and cluster
reports in, the whole ``status`` out, with conditions (Ready, Reconciling, Degraded)
and ``observedGeneration``; :func:`member_status` likewise for a MemberCluster. The condition
rules are :mod:`bizdomain.conditions`'; the inputs are plan records and pass reports
(:mod:`bizdomain.report`), never the sync layer. Called by :mod:`bizdomain.reporting`, which
writes a status only when it differs from what the object already holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bizdomain import names
from bizdomain.api.binding import BindingSummary, EnvironmentBindingStatus
from bizdomain.api.common import Condition
from bizdomain.api.domain import BudgetUsage, BusinessDomainStatus, ClusterOutcome, DomainSummary, EnvironmentStatus
from bizdomain.api.member import MemberClusterStatus
from bizdomain.conditions import Verdict, blocking, conditions, now, since
from bizdomain.config import Settings
from bizdomain.plan import BindingRecord, DomainRecord, MemberRecord, Placement, Selection, World, binding_domain
from bizdomain.plan import budget as budgets
from bizdomain.plan.cluster import domain_for_namespace
from bizdomain.plan.kept import Kept
from bizdomain.report import ClusterReport

# What makes a member not Ready: it cannot be reached, refused us, or lacks what `bizdomain join` installs.
_MEMBER_DOWN = (*names.UNREACHABLE_REASONS, names.Reason.PLATFORM_NOT_INSTALLED)


def _outcome(
    cluster: str, key: tuple[str, str], gens: tuple[int, int], report: ClusterReport | None
) -> tuple[ClusterOutcome, bool]:
    """One cluster's entry for a tenant, and whether it reflects the current generations."""
    if report is None:
        return ClusterOutcome(
            cluster=cluster, ready=False, reason=names.Reason.PENDING, message="not synced yet"
        ), False
    if not report.ok:
        return ClusterOutcome(cluster=cluster, ready=False, reason=report.reason, message=report.message), True
    tenant = report.tenants.get(key)
    if tenant is None:
        return ClusterOutcome(
            cluster=cluster, ready=False, reason=names.Reason.PENDING, message="not synced yet"
        ), False
    blocked = blocking(tenant.problems)
    messages = [p.message for p in tenant.problems] + tenant.errors
    if blocked or tenant.errors:
        reason = blocked[0].reason if blocked else names.Reason.SYNC_FAILED
        ready = False
    else:
        reason, ready = names.Reason.RECONCILED, True
    return (
        ClusterOutcome(
            cluster=cluster,
            ready=ready,
            reason=reason,
            message="; ".join(messages),
            namespaces=sorted(tenant.namespaces),
        ),
        tenant.generations == gens,
    )


def binding_status(
    binding: BindingRecord,
    world: World,
    reports: Mapping[str, ClusterReport],
    settings: Settings,
    placement: Placement,
) -> EnvironmentBindingStatus:
    """The whole status of one EnvironmentBinding (``placement``: where the plan put each binding)."""
    domain = binding_domain(binding, world, settings)
    domain_name = domain_for_namespace(binding.namespace, settings)
    previous = list(binding.status.get("conditions") or [])
    status = EnvironmentBindingStatus(observed_generation=binding.generation, domain=domain_name)
    verdict: Verdict
    if domain_name is None:
        verdict = Verdict.failed(
            names.Reason.NOT_IN_DOMAIN_NAMESPACE,
            f"EnvironmentBindings live in a domain's namespace ({settings.domain_namespace_prefix}<domain>)",
        )
    elif domain is None:
        verdict = Verdict.failed(names.Reason.DOMAIN_NOT_FOUND, f"BusinessDomain {domain_name!r} does not exist")
    elif binding.spec is None or domain.spec is None:
        verdict = Verdict.failed(names.Reason.INVALID_SPEC, binding.error or domain.error or "invalid spec")
    else:
        verdict = _binding_verdict(binding, domain, placement.of(binding), reports, status)
        status.budget = _budget(binding, domain, reports)
    status.conditions = conditions(verdict, binding.generation, previous)
    if status.budget is not None:
        status.conditions.append(_over_budget([status.budget], binding.generation, previous))
    return status


def _budget(binding: BindingRecord, domain: DomainRecord, reports: Mapping[str, ClusterReport]) -> BudgetUsage | None:
    """The domain's budget in the binding's environment, and what the members' quotas hold and use:
    on every member, whichever binding of the environment places the namespaces there (the budget is
    the domain's; a second binding of the environment on other members shares it)."""
    assert binding.spec is not None
    assert domain.spec is not None
    budget = domain.spec.budget(binding.spec.environment)
    if budget is None:
        return None
    key = (domain.name, binding.spec.environment)
    hard: budgets.Amounts = {}
    used: budgets.Amounts = {}
    for report in reports.values():
        tenant = report.tenants.get(key) if report.ok else None
        for into, amounts in ((hard, tenant.quota_hard if tenant else {}), (used, tenant.quota_used if tenant else {})):
            for resource, value in amounts.items():
                into[resource] = into.get(resource, Decimal(0)) + value
    for released in _beside(key, reports):  # what sandboxes and released namespaces hold is the domain's too
        for into, quantities in ((hard, released.hard), (used, released.used)):
            for resource, value in budgets.amounts(quantities).items():
                into[resource] = into.get(resource, Decimal(0)) + value
    return budgets.usage(binding.spec.environment, budget, hard, used)


def _beside(key: tuple[str, str], reports: Mapping[str, ClusterReport]) -> list[Kept]:
    """The namespaces of a domain x environment holding our quota on a member that its bindings do
    not place there: its sandboxes' and those released (or about to be), on every member, selected or not."""
    out: list[Kept] = []
    for report in reports.values():
        if not report.ok:
            continue  # as for the bindings' own: a member that failed its pass shows nothing
        tenant = report.tenants.get(key)
        placed = set(tenant.namespaces) if tenant is not None else set()
        out += [kept for kept in (report.kept or {}).get(key, ()) if kept.namespace not in placed]
    return out


def _over_budget(entries: list[BudgetUsage], generation: int, previous: list[dict[str, Any]]) -> Condition:
    """``OverBudget``: True while what runs uses more than a (lowered) budget; nothing is deleted for it."""
    over = [
        f"{e.environment} {r} used {e.used[r]} > budget {e.hard[r]}" for e in entries for r in budgets.over_budget(e)
    ]
    status = "True" if over else "False"
    before = next((c for c in previous if c.get("type") == names.COND_OVER_BUDGET), None)
    return Condition(
        type=names.COND_OVER_BUDGET,
        status=status,
        reason=names.Reason.OVER_BUDGET if over else names.Reason.WITHIN_BUDGET,
        message=("; ".join(over) + ": nothing is deleted; free capacity or raise the budget") if over else "",
        last_transition_time=since(before, status),
        observed_generation=generation,
    )


def _binding_verdict(
    binding: BindingRecord,
    domain: DomainRecord,
    selection: Selection,
    reports: Mapping[str, ClusterReport],
    status: EnvironmentBindingStatus,
) -> Verdict:
    assert binding.spec is not None
    key = (domain.name, binding.spec.environment)
    gens = (domain.generation, binding.generation)
    clusters = selection.clusters
    current = True
    for cluster in clusters:
        outcome, fresh = _outcome(cluster, key, gens, reports.get(cluster))
        status.clusters.append(outcome)
        current = current and fresh
    ready_count = sum(1 for o in status.clusters if o.ready)
    status.summary = BindingSummary(clusters=f"{ready_count}/{len(clusters)}")
    missing = selection.unknown
    failing = [o for o in status.clusters if not o.ready and o.reason != names.Reason.PENDING]
    warnings = [o for o in status.clusters if o.ready and o.message]
    if missing:
        return Verdict.failed(names.Reason.UNKNOWN_CLUSTER, f"no MemberCluster named {', '.join(missing)}")
    foreign = selection.foreign
    if foreign:
        return Verdict.failed(
            names.Reason.CLUSTER_NOT_IN_ENVIRONMENT,
            f"MemberCluster {', '.join(foreign)} does not serve environment {binding.spec.environment!r}: "
            "a binding only ever places its domain on members of its own environment",
        )
    if not clusters:
        environment = binding.spec.environment
        return Verdict.failed(names.Reason.NO_CLUSTERS, f"no MemberCluster serves environment {environment!r}")
    if failing:
        first = failing[0]
        detail = "; ".join(f"{o.cluster}: {o.message or o.reason}" for o in failing)
        return Verdict.failed(first.reason, detail, reconciling=not current)
    if not current or ready_count < len(clusters):
        return Verdict.progressing(names.Reason.PROGRESSING, "waiting for member clusters to converge")
    message = "; ".join(f"{o.cluster}: {o.message}" for o in warnings)
    return Verdict.converged(names.Reason.RECONCILED, message or f"converged on {len(clusters)} cluster(s)")


def domain_status(
    domain: DomainRecord,
    bindings: list[tuple[BindingRecord, EnvironmentBindingStatus]],
    settings: Settings,
    *,
    host_conflict: str | None = None,
) -> BusinessDomainStatus:
    """A domain's status: its environments (from its bindings' statuses) and a summary for kubectl.

    ``host_conflict`` says why its host namespace is not the operator's (then nothing is acted on).
    """
    previous = list(domain.status.get("conditions") or [])
    status = BusinessDomainStatus(
        observed_generation=domain.generation, host_namespace=settings.domain_namespace(domain.name)
    )
    total = ready = 0
    for binding, bstatus in sorted(bindings, key=lambda b: b[0].name):
        env = binding.spec.environment if binding.spec else binding.name
        ok = any(c.type == names.COND_READY and c.status == "True" for c in bstatus.conditions)
        status.environments.append(
            EnvironmentStatus(environment=env, binding=binding.name, ready=ok, clusters=bstatus.clusters)
        )
        total += len(bstatus.clusters)
        ready += sum(1 for c in bstatus.clusters if c.ready)
    # one entry per environment: every binding of an environment shows the domain's same figures there
    per_environment = {bs.budget.environment: bs.budget for _, bs in sorted(bindings, key=lambda b: b[0].name)
                       if bs.budget is not None}  # fmt: skip
    status.budgets = list(per_environment.values())
    status.summary = DomainSummary(
        environments=",".join(e.environment for e in status.environments),
        clusters=f"{ready}/{total}",
        budget=budgets.summary(status.budgets) or None,
    )
    if host_conflict is not None:
        verdict = Verdict.failed(names.Reason.HOST_NAMESPACE_CONFLICT, host_conflict)
    elif domain.spec is None:
        verdict = Verdict.failed(names.Reason.INVALID_SPEC, domain.error or "invalid spec")
    else:
        not_ready = [e for e in status.environments if not e.ready]
        if not status.environments:
            verdict = Verdict.converged(names.Reason.RECONCILED, "not bound to any environment yet")
        elif not_ready:
            reconciling = all(
                any(c.type == names.COND_RECONCILING and c.status == "True" for c in bs.conditions)
                for b, bs in bindings
                if (b.spec.environment if b.spec else b.name) in {e.environment for e in not_ready}
            )
            unready = {e.environment for e in not_ready}
            failing = [
                c.reason
                for b, bs in bindings
                for c in bs.conditions
                if c.type == names.COND_READY and (b.spec.environment if b.spec else b.name) in unready
            ]
            message = "not ready in " + ", ".join(e.environment for e in not_ready)
            if reconciling:
                verdict = Verdict.progressing(names.Reason.PROGRESSING, message)
            else:
                verdict = Verdict.failed(failing[0] if failing else names.Reason.SYNC_FAILED, message)
        else:
            verdict = Verdict.converged(
                names.Reason.RECONCILED,
                f"ready in {len(status.environments)} environment(s) on {total} cluster(s)",
            )
    status.conditions = conditions(verdict, domain.generation, previous)
    if status.budgets:
        status.conditions.append(_over_budget(status.budgets, domain.generation, previous))
    return status


def member_status(member: MemberRecord, report: ClusterReport | None, version: str | None) -> MemberClusterStatus:
    """Reachability of a member, from its last sync pass."""
    previous = list(member.status.get("conditions") or [])
    if report is None:
        verdict = Verdict.progressing(names.Reason.PENDING, "not probed yet")
    elif report.reason in _MEMBER_DOWN:
        verdict = Verdict.failed(report.reason, report.message)
    else:
        verdict = Verdict.converged(names.Reason.REACHABLE, f"reachable, Kubernetes {version or 'unknown'}")
    built = conditions(verdict, member.generation, previous)
    changed = [
        c.type for c in built if c.status != next((p.get("status") for p in previous if p.get("type") == c.type), None)
    ]
    last_probe = now() if changed or not member.status.get("lastProbeTime") else member.status.get("lastProbeTime")
    return MemberClusterStatus(
        observed_generation=member.generation,
        conditions=built,
        kubernetes_version=version or member.status.get("kubernetesVersion"),
        last_probe_time=last_probe,
    )
