"""The Workspace status a member shows: written when the condition changes, transition time kept while it holds."""

from __future__ import annotations

from typing import Any

from bizdomain import names
from bizdomain.plan import ClusterPlan, Problem
from bizdomain.plan.tenant import TenantPlan
from bizdomain.report import ClusterReport
from bizdomain.sync.workspaces import workspace_statuses

CRD: Any = None  # never read here


def plan(*tenants: TenantPlan) -> ClusterPlan:
    return ClusterPlan(cluster="dev", platform=[], crd=CRD, tenants={t.key: t for t in tenants})


def tenant(domain: str = "payments", *, hold: bool = False) -> TenantPlan:
    return TenantPlan(
        domain, "dev", ("domain-" + domain, "dev"), "Retain", workspace={"spec": {}}, frozen=hold, hold=hold
    )


def held(status: str, reason: str, message: str, since: str = "2026-01-01T00:00:00Z") -> dict[Any, Any]:
    condition = {"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": since}
    return {("Workspace", None, "payments.dev"): {"status": {"conditions": [condition]}}}


def never(_: str) -> bool:
    return False


def test_a_complete_footprint_is_ready() -> None:
    [body] = workspace_statuses(plan(tenant()), ClusterReport("dev", ok=True), {}, skipped=never)
    assert body["metadata"] == {"name": "payments.dev"}
    [condition] = body["status"]["conditions"]
    assert (condition["status"], condition["reason"]) == ("True", names.Reason.RECONCILED)
    assert condition["lastTransitionTime"].endswith("Z")


def test_unchanged_is_not_written_again() -> None:
    live = held("True", names.Reason.RECONCILED, "all namespaces, RBAC and quotas in place")
    assert workspace_statuses(plan(tenant()), ClusterReport("dev", ok=True), live, skipped=never) == []


def test_a_problem_makes_it_not_ready_and_a_new_message_keeps_the_transition_time() -> None:
    report = ClusterReport("dev", ok=True)
    report.tenant(("payments", "dev")).problems.append(Problem(names.Reason.NAMESPACE_CONFLICT, "taken by x"))
    live = held("False", names.Reason.NAMESPACE_CONFLICT, "taken by y", since="2026-01-02T00:00:00Z")
    [body] = workspace_statuses(plan(tenant()), report, live, skipped=never)
    [condition] = body["status"]["conditions"]
    assert (condition["status"], condition["message"]) == ("False", "taken by x")
    assert condition["lastTransitionTime"] == "2026-01-02T00:00:00Z"


def test_held_skipped_and_workspaceless_tenants_are_left_alone() -> None:
    bare = tenant("bare")
    bare.workspace = None
    tenants = plan(tenant("held", hold=True), tenant("moving"), bare)
    assert workspace_statuses(tenants, ClusterReport("dev", ok=True), {}, skipped=lambda d: d == "moving") == []
