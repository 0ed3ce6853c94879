"""The Workspace status each member shows its users: is the domain's footprint there complete?

Pure: the engine hands it the plan, what its pass did and the view's Workspaces, and writes
the statuses it returns (only those that changed). The rules (what blocks readiness, when the
transition time moves) are the host statuses' own, from :mod:`bizdomain.conditions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bizdomain import conditions, names
from bizdomain.members.rest import JSON
from bizdomain.plan import ClusterPlan
from bizdomain.plan.objects import Key
from bizdomain.report import ClusterReport

COMPLETE = "all namespaces, RBAC and quotas in place"


def workspace_statuses(
    plan: ClusterPlan, report: ClusterReport, live: Mapping[Key, JSON], *, skipped: Callable[[str], bool]
) -> list[JSON]:
    """The status bodies (for server-side apply) of the plan's Workspaces whose condition changed."""
    writes: list[JSON] = []
    for tenant in plan.tenants.values():
        if tenant.hold or tenant.workspace is None or skipped(tenant.domain):
            continue
        outcome = report.tenant(tenant.key)
        blocking = conditions.blocking(outcome.problems)
        ready = outcome.ok and not blocking
        message = "; ".join([p.message for p in blocking] + outcome.errors) or COMPLETE
        name = names.workspace_name(tenant.domain, tenant.environment)
        held = live.get((names.KIND_WORKSPACE, None, name)) or {}
        old: dict[str, Any] = next(iter((held.get("status") or {}).get("conditions") or []), {})
        status = "True" if ready else "False"
        reason = names.Reason.RECONCILED if ready else (blocking[0].reason if blocking else names.Reason.SYNC_FAILED)
        if old.get("status") == status and old.get("reason") == reason and old.get("message") == message:
            continue
        condition = {
            "type": names.COND_READY,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": conditions.since(old, status),
        }
        writes.append(
            {
                "apiVersion": names.API_VERSION,
                "kind": names.KIND_WORKSPACE,
                "metadata": {"name": name},
                "status": {"conditions": [condition]},
            }
        )
    return writes
