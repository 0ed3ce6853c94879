"""A Sandbox's status from the member passes: phase, namespaces per cluster, expiry, rights, conditions.

Pure: the sandbox keeper (:mod:`bizdomain.sandbox_keeper`) calls :func:`sandbox_status` with the
world and the last pass of every member, and writes the result only when it changed.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from bizdomain import names
from bizdomain.api.common import Condition
from bizdomain.api.sandbox import SandboxGrant, SandboxNamespaces, SandboxStatus
from bizdomain.conditions import since
from bizdomain.config import Settings
from bizdomain.plan.cluster import domain_for_namespace
from bizdomain.plan.inputs import SandboxRecord, World
from bizdomain.plan.placement import binding_clusters
from bizdomain.plan.sandbox import desired_sandbox, tenant_environment
from bizdomain.plan.sandbox_lifetime import expiring_at, expiry, phase
from bizdomain.report import ClusterReport


def _stamp(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _condition(
    type_: str, flag: bool, reason: str, message: str, *, previous: Mapping[str, Any], gen: int
) -> Condition:
    status = "True" if flag else "False"
    before = next((c for c in previous.get("conditions") or [] if c.get("type") == type_), None)
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since(before, status),
        observed_generation=gen,
    )


def expiring_soon(sandbox: SandboxRecord, now: datetime.datetime) -> bool:
    due = expiring_at(sandbox)
    return due is not None and now >= due and not sandbox.deleting


def sandbox_status(
    sandbox: SandboxRecord,
    world: World,
    reports: Mapping[str, ClusterReport],
    settings: Settings,
    now: datetime.datetime,
) -> SandboxStatus:
    """What a developer reads: where it is (phase), its namespaces per cluster, expiry, rights."""
    domain_name = domain_for_namespace(sandbox.namespace, settings) or ""
    domain = world.domains.get(domain_name)
    status = SandboxStatus(observed_generation=sandbox.generation, domain=domain_name)
    end = expiry(sandbox)
    status.expires_at = _stamp(end) if end is not None else None
    reason, message, ready = names.Reason.PENDING, "not synced yet", False
    if sandbox.spec is None:
        reason, message = names.Reason.INVALID_SPEC, sandbox.error or "unparseable spec"
    else:
        binding = world.bindings.get((sandbox.namespace, sandbox.spec.environment))
        if domain is None or domain.spec is None or binding is None or binding.spec is None:
            reason = names.Reason.BASE_NOT_FOUND
            message = f"its base environment {sandbox.spec.environment!r} has no EnvironmentBinding in this domain"
        else:
            tenant = desired_sandbox(domain, binding, sandbox, settings)
            status.rights = [
                SandboxGrant(subject=f"{s['kind']}:{s['name']}", role=role)
                for role, subjects in tenant.grants.values()
                for s in subjects
            ]
            key = (domain_name, tenant_environment(sandbox.spec.environment, sandbox.name))
            clusters = binding_clusters(binding, world)
            problems: list[str] = []
            ready = bool(clusters)
            for cluster in clusters:
                report = reports.get(cluster)
                outcome = report.tenants.get(key) if report is not None and report.ok else None
                if outcome is None:
                    ready = False
                    continue
                status.clusters.append(SandboxNamespaces(cluster=cluster, namespaces=sorted(outcome.namespaces)))
                problems += [f"{cluster}: {p.message}" for p in outcome.problems] + outcome.errors
                if outcome.problems or outcome.errors or outcome.frozen or outcome.generations[1] != sandbox.generation:
                    ready = False
                    reason = outcome.problems[0].reason if outcome.problems else reason
            if ready:
                reason, message = names.Reason.RECONCILED, f"namespaces ready on {', '.join(clusters)}"
            elif problems:
                message = "; ".join(problems)
    status.phase = phase(sandbox, ready, now)
    soon = expiring_soon(sandbox, now)
    status.conditions = [
        _condition(names.COND_READY, ready, reason, message, previous=sandbox.status, gen=sandbox.generation),
        _condition(
            names.COND_EXPIRING_SOON,
            soon,
            names.Reason.EXPIRING_SOON if soon else "NotYet",
            f"expires at {status.expires_at}; extend it with spec.expiresAt" if soon else "",
            previous=sandbox.status,
            gen=sandbox.generation,
        ),
    ]
    return status
