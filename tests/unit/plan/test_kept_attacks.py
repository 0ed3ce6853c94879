"""What a domain's namespaces hold on the members, not what its specs ask: the budget counts the larger.

The attackers first. A source (the baseline, a sandbox) that does not land keeps what its members
hold, whatever its spec now asks; and a namespace no binding selects any more is pruned by the
policy recorded on it, not by the binding's. Were the rule to trust the spec, a domain owner could
lower an ask while freezing the change, or flip the deletion policy while moving clusters, and hold
the budget twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bizdomain import names
from bizdomain.plan import BindingRecord, DomainRecord, plan_cluster
from bizdomain.plan.inputs import SandboxRecord, World
from bizdomain.plan.kept import kept_quotas
from unit import factories
from unit.factories import SETTINGS
from unit.plan.test_budget import bound, budgeted, reasons
from unit.plan.test_sandbox import sandbox

FULL = {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}  # each of 2 projects: the budget is full
BOTH = ("dev0", "dev1")
NOTHING = {"requests.cpu": "0", "requests.memory": "0", "pods": "0"}


def namespace(name: str, environment: str = "dev", policy: str = "Retain") -> dict[str, Any]:
    labels = {
        names.LABEL_DOMAIN: "payments",
        names.LABEL_ENVIRONMENT: environment,
        names.LABEL_MANAGED_BY: names.MANAGED_BY_VALUE,
    }
    annotations = {names.ANNOTATION_DOMAIN_UID: "uid-payments", names.ANNOTATION_DELETION_POLICY: policy}
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels, "annotations": annotations}}


def world(
    domain: DomainRecord,
    binding: BindingRecord,
    held: dict[str, dict[str, dict[str, str]]],
    *sandboxes: SandboxRecord,
    policy: str = "Retain",
    members: tuple[str, ...] = ("dev0",),
) -> World:
    """Dev members (``members``); ``held``: cluster -> namespace -> the hard of the quota it holds there (a
    member pass's report, through :func:`kept_quotas`)."""
    base = factories.world([domain], [binding], [factories.member(m) for m in members])
    kept: dict[tuple[str, str], tuple[Any, ...]] = {}
    for cluster, quotas in held.items():
        report = kept_quotas(
            cluster,
            {n: namespace(n, "dev--" + n.split("--")[1] if "--" in n else "dev", policy) for n in quotas},
            {n: {"hard": hard, "used": {}} for n, hard in quotas.items()},
            owners={"payments": ("uid-payments",)},
            budgeted=frozenset({"payments"}),
            protected_member=False,
            settings=SETTINGS,
        )
        for key, entries in report.items():
            kept[key] = kept.get(key, ()) + entries
    return dataclasses.replace(base, kept=kept, sandboxes={s.key: s for s in sandboxes})


def landed(record: SandboxRecord) -> SandboxRecord:
    return dataclasses.replace(record, status={"phase": "Ready"})


def test_a_frozen_baseline_that_asks_less_than_its_members_hold_leaves_a_sandbox_no_room() -> None:
    # The platform's quota does not name pods (budgeted), so the owner gives each namespace its pods.
    # The owner drops pods and lowers cpu and memory to 0 in one edit: the binding freezes (a namespace
    # would be unbounded), so its namespaces keep 4 + 4 cpu on the member. Were the baseline counted at
    # its ask (0), a sandbox could take the whole budget beside them.
    domain = budgeted(quota={"requests.cpu": "4", "requests.memory": "8Gi"})
    assert (
        not plan_cluster(factories.member("dev0"), world(domain, bound(quota={"pods": "20"}), {}), SETTINGS)
        .tenants[("payments", "dev")]
        .frozen
    )
    frozen = bound(quota={"requests.cpu": "0", "requests.memory": "0"})
    sbx = sandbox("grab", quota=FULL)
    plan = plan_cluster(
        factories.member("dev0"), world(domain, frozen, {"dev0": {"pay": FULL, "pay-batch": FULL}}, sbx), SETTINGS
    )
    assert plan.tenants[("payments", "dev")].frozen
    grab = plan.tenants[("payments", "dev--grab")]
    assert grab.frozen, "a sandbox landed in the room a frozen baseline still holds"
    assert names.Reason.BUDGET_EXCEEDED in reasons(grab)


def test_a_frozen_sandbox_that_asks_less_than_it_holds_leaves_the_baseline_no_room() -> None:
    # A landed sandbox holds 2 x 2 cpu beside the baseline's 2 x 2 (the budget: 8). Its owner edits
    # its quota to 0 cpu and drops the other budgeted resources, so it freezes (unbounded) and keeps
    # what it holds; the domain owner raises the baseline into the room the sandbox still holds.
    half = {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}
    domain = budgeted(quota=half)
    grown = bound(quota=FULL)
    sbx = landed(sandbox("keep", quota={"requests.cpu": "0"}))
    held = {"dev0": {"pay": half, "pay-batch": half, "pay--keep": half, "pay-batch--keep": half}}
    plan = plan_cluster(factories.member("dev0"), world(domain, grown, held, sbx), SETTINGS)
    assert plan.tenants[("payments", "dev--keep")].frozen
    baseline = plan.tenants[("payments", "dev")]
    assert baseline.frozen, "the baseline grew into the room a frozen sandbox still holds"
    assert names.Reason.BUDGET_EXCEEDED in reasons(baseline)


def test_moving_clusters_and_flipping_to_delete_in_one_edit_still_counts_what_the_old_member_releases() -> None:
    # Made under Retain on dev0 (recorded on each namespace). One edit picks dev1 and says Delete:
    # no binding selects dev0 any more, so its namespaces are pruned by their recorded policy,
    # Retain: released with their quota. They must count, or dev1 gets the whole budget again.
    domain = budgeted(quota=FULL)
    moved = bound(clusters={"names": ["dev1"]}, deletionPolicy="Delete")
    held = {"dev0": {"pay": FULL, "pay-batch": FULL}}
    plan = plan_cluster(factories.member("dev1"), world(domain, moved, held, members=BOTH), SETTINGS)
    tenant = plan.tenants[("payments", "dev")]
    assert tenant.frozen, "dev1 got the whole budget while dev0 keeps it"
    assert names.Reason.BUDGET_EXCEEDED in reasons(tenant)


def test_the_legitimate_flows_still_land() -> None:
    domain = budgeted(quota=FULL)
    held = {"dev0": {"pay": FULL, "pay-batch": FULL}}
    # a re-split within the budget, on the member that holds the old split
    resplit = bound(projectQuotas=[{"project": "pay", "hard": {"requests.cpu": "1"}},
                                   {"project": "pay-batch", "hard": {"requests.cpu": "7"}}])  # fmt: skip
    assert (
        not plan_cluster(factories.member("dev0"), world(domain, resplit, held), SETTINGS)
        .tenants[("payments", "dev")]
        .frozen
    )
    # moving clusters under Delete recorded on the namespaces: the old ones go, the move lands
    moved = bound(clusters={"names": ["dev1"]}, deletionPolicy="Delete")
    plan = plan_cluster(factories.member("dev1"), world(domain, moved, held, policy="Delete", members=BOTH), SETTINGS)
    assert not plan.tenants[("payments", "dev")].frozen
    # a rename under Delete on the same member: the binding's policy governs there, the old ones go
    renamed = bound(namespaceTemplate="{project}-{environment}", deletionPolicy="Delete")
    assert (
        not plan_cluster(factories.member("dev0"), world(domain, renamed, held), SETTINGS)
        .tenants[("payments", "dev")]
        .frozen
    )


def test_a_sandbox_not_reported_ready_still_holds_what_its_members_hold() -> None:
    # The sandbox landed on dev0 but its phase is not Ready yet (another member is slow): its
    # namespaces on dev0 hold their quota all the same, so the baseline may not grow into them.
    half = {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}
    domain = budgeted(quota=half)
    sbx = dataclasses.replace(sandbox("slow", quota=half), status={"phase": "Provisioning"})
    held = {"dev0": {"pay": half, "pay-batch": half, "pay--slow": half, "pay-batch--slow": half}}
    plan = plan_cluster(factories.member("dev0"), world(domain, bound(quota=FULL), held, sbx), SETTINGS)
    assert plan.tenants[("payments", "dev")].frozen, "the baseline grew into a provisioning sandbox's room"


def test_a_sandbox_asking_far_more_than_it_holds_freezes_itself_not_the_baseline() -> None:
    # A developer edits its landed sandbox's quota to 1000 cpu: the sandbox freezes and keeps what its
    # members hold (2 x 2 cpu). Counted at its ask, it would freeze the untouched baseline (and every
    # younger sandbox): one developer could stop the domain's dev binding from placing anything.
    half = {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}
    domain = budgeted(quota=half)
    greedy = landed(sandbox("greedy", quota={"requests.cpu": "1000", "requests.memory": "4Gi", "pods": "10"}))
    held = {"dev0": {"pay": half, "pay-batch": half, "pay--greedy": half, "pay-batch--greedy": half}}
    plan = plan_cluster(factories.member("dev0"), world(domain, bound(), held, greedy), SETTINGS)
    assert plan.tenants[("payments", "dev--greedy")].frozen
    baseline = plan.tenants[("payments", "dev")]
    assert not baseline.frozen, baseline.problems
