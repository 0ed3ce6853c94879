"""The Workspace status each member shows its users: is the domain's footprint there complete?

Pure: the engine hands it the plan, what its pass did and the view's Workspaces, and writes
the statuses it returns (only those that changed; the transition time is kept while the
condition holds).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from bizdomain import names
from bizdomain.members.rest import JSON
from bizdomain.plan import ClusterPlan
from bizdomain.sync.report import ClusterReport
from bizdomain.sync.view import Key


def now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def workspace_statuses(
    plan: ClusterPlan, report: ClusterReport, live: Mapping[Key, JSON], *, skipped: Callable[[str], bool]
) -> list[JSON]:
    """The status bodies (for server-side apply) of the plan's Workspaces whose condition changed."""
    writes: list[JSON] = []
    for tenant in plan.tenants.values():
        if tenant.hold or tenant.workspace is None or skipped(tenant.domain):
            continue
        outcome = report.tenant(tenant.key)
        blocking = [p for p in outcome.problems if p.reason != names.Reason.DELETION_BLOCKED]
        ready = outcome.ok and not blocking
        message = (
            "; ".join([p.message for p in blocking] + outcome.errors) or "all namespaces, RBAC and quotas in place"
        )
        name = f"{tenant.domain}.{tenant.environment}"
        held = live.get(("Workspace", None, name)) or {}
        old: dict[str, Any] = next(iter((held.get("status") or {}).get("conditions") or []), {})
        status = "True" if ready else "False"
        reason = names.Reason.RECONCILED if ready else (blocking[0].reason if blocking else names.Reason.SYNC_FAILED)
        if old.get("status") == status and old.get("reason") == reason and old.get("message") == message:
            continue
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        condition = {
            "type": names.COND_READY,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": since or now(),
        }
        writes.append(
            {
                "apiVersion": names.API_VERSION,
                "kind": "Workspace",
                "metadata": {"name": name},
                "status": {"conditions": [condition]},
            }
        )
    return writes
