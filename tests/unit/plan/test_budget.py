"""Domain budgets (plan/budget.py and the freeze in plan_cluster): the attacker's splits first, then
the happy path, then the property: whatever lands never allocates more than the budget."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bizdomain import names
from bizdomain.api.domain import BudgetUsage
from bizdomain.plan import BindingRecord, DomainRecord, desired_host, plan_cluster
from bizdomain.plan.budget import (
    Share,
    Source,
    amounts,
    binding_source,
    fold_used,
    host_annotations,
    judge,
    over_budget,
    show,
    summary,
    total,
    usage,
)
from bizdomain.records import binding_record
from unit import factories
from unit.factories import SETTINGS

BUDGET = {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "40"}
QUOTA = {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}
PROJECTS = [{"name": "pay"}, {"name": "pay-batch"}]


def budgeted(quota: dict[str, str] | None = None, **fields: Any) -> DomainRecord:
    spec: dict[str, Any] = {
        "projects": PROJECTS,
        "quota": QUOTA if quota is None else quota,
        "budgets": [{"environment": "dev", "hard": BUDGET}],
        "limits": {"default": {"cpu": "500m"}, "max": {"cpu": "2", "memory": "4Gi"}},
    }
    spec.update(fields)
    return factories.domain("payments", factories.domain_spec_dict(**spec))


def bound(**fields: Any) -> BindingRecord:
    return factories.binding("dev", factories.binding_spec_dict("dev", **fields))


def tenant_on(domain: DomainRecord, binding: BindingRecord, clusters: int = 1) -> Any:
    members = [factories.member(f"dev{i}", labels={"tier": "gold"}) for i in range(clusters)]
    world = factories.world([domain], [binding], members)
    return plan_cluster(members[0], world, SETTINGS).tenants[("payments", "dev")]


def reasons(tenant: Any) -> list[str]:
    return [p.reason for p in tenant.problems]


# --- the attacker: a domain owner writes any value in any field of its binding --------------------


def test_an_owner_raising_its_quota_past_the_budget_freezes_the_binding_naming_resource_sum_and_budget() -> None:
    tenant = tenant_on(budgeted(), bound(quota={"requests.cpu": "100000"}))
    assert tenant.frozen
    message = next(p.message for p in tenant.problems if p.reason == names.Reason.BUDGET_EXCEEDED)
    assert "requests.cpu" in message
    assert "200000" in message
    assert "budget of 8" in message
    assert "'dev'" in message


def test_a_project_quota_past_the_budget_freezes_too() -> None:
    tenant = tenant_on(budgeted(), bound(projectQuotas=[{"project": "pay", "hard": {"pods": "39"}}]))
    assert names.Reason.BUDGET_EXCEEDED in reasons(tenant)
    assert "pods: 2 namespace(s) would allocate 49" in " ".join(p.message for p in tenant.problems)


def test_dropping_a_budgeted_resource_would_leave_a_namespace_unbounded_and_is_refused() -> None:
    # The domain's quota names no pods; the owner gives pods to one project only.
    domain = budgeted(quota={"requests.cpu": "1", "requests.memory": "1Gi"})
    tenant = tenant_on(domain, bound(projectQuotas=[{"project": "pay", "hard": {"pods": "5"}}]))
    message = " ".join(p.message for p in tenant.problems)
    assert tenant.frozen
    assert "pods: namespace pay-batch on dev0 would have no quota" in message
    assert "unbounded" in message


def test_many_projects_count_once_per_namespace() -> None:
    projects = [{"name": f"p{i}"} for i in range(5)]  # 5 x 2 cpu = 10 > 8
    tenant = tenant_on(budgeted(projects=projects), bound())
    assert "requests.cpu: 5 namespace(s) would allocate 10" in " ".join(p.message for p in tenant.problems)


def test_selecting_more_clusters_by_label_counts_every_cluster() -> None:
    selector = {"selector": {"matchLabels": {"tier": "gold"}}}
    assert not tenant_on(budgeted(), bound(clusters=selector), clusters=2).frozen  # 2 x 2 x 2 cpu = 8
    tenant = tenant_on(budgeted(), bound(clusters=selector), clusters=3)  # 12 > 8
    assert tenant.frozen
    assert "requests.cpu: 6 namespace(s) would allocate 12" in " ".join(p.message for p in tenant.problems)


def test_a_second_binding_of_the_same_environment_cannot_double_the_budget() -> None:
    # The owner splits dev over two bindings, each on its own cluster and each within the budget
    # alone (2 projects x 2 cpu x 2 clusters = 8): together they would allocate 16 > 8.
    domain = budgeted()
    first = bound(clusters={"names": ["dev0", "dev1"]})
    second = factories.binding("dev", factories.binding_spec_dict("dev", clusters={"names": ["dev2", "dev3"]}))
    second = BindingRecord(
        **{**second.__dict__, "name": "dev-again", "uid": "uid-dev-again", "created": "2026-02-01T00:00:00Z"}
    )
    members = [factories.member(f"dev{i}") for i in range(4)]
    world = factories.world([domain], [first, second], members)
    for member in members:
        tenant = plan_cluster(member, world, SETTINGS).tenants[("payments", "dev")]
        assert tenant.frozen, member.name
        assert "requests.cpu: 8 namespace(s) would allocate 16" in " ".join(p.message for p in tenant.problems)


@pytest.mark.parametrize(
    "limits",
    [
        {"max": {"cpu": "64"}},
        {"default": {"memory": "5Gi"}},
        {"defaultRequest": {"cpu": "3"}},
        {"min": {"cpu": "2001m"}},
    ],
)
def test_an_owner_cannot_lift_the_container_limits_the_domain_sets(limits: dict[str, Any]) -> None:
    tenant = tenant_on(budgeted(), bound(limits=limits))
    assert tenant.frozen
    assert names.Reason.LIMITS_EXCEEDED in reasons(tenant)
    assert "spec.limits.max of the BusinessDomain" in tenant.problems[0].message


def test_limits_within_the_ceiling_land() -> None:
    assert not tenant_on(budgeted(), bound(limits={"max": {"cpu": "1"}, "default": {"cpu": "2"}})).frozen


def test_a_budget_lowered_after_the_fact_freezes_what_no_longer_fits() -> None:
    lowered = budgeted(budgets=[{"environment": "dev", "hard": {**BUDGET, "requests.cpu": "3"}}])
    tenant = tenant_on(lowered, bound())
    assert tenant.frozen
    assert "budget of 3" in tenant.problems[0].message


def test_the_default_budget_covers_unlisted_environments_and_none_means_unbudgeted() -> None:
    assert tenant_on(budgeted(budgets=[], defaultBudget={"pods": "5"}), bound()).frozen
    assert not tenant_on(budgeted(budgets=[]), bound(quota={"requests.cpu": "100000"})).frozen
    other = budgeted(budgets=[{"environment": "prod", "hard": {"pods": "1"}}])
    assert not tenant_on(other, bound()).frozen


# --- the happy path ----------------------------------------------------------------------------


def test_a_resplit_within_the_budget_lands_with_each_project_its_own_quota() -> None:
    binding = bound(
        quota={"requests.cpu": "1"},
        projectQuotas=[{"project": "pay", "hard": {"requests.cpu": "7", "pods": "30"}}],
    )
    tenant = tenant_on(budgeted(), binding)
    assert not tenant.frozen
    quotas = {d.namespace: d.body["spec"]["hard"] for d in tenant.children if d.kind == "ResourceQuota"}
    assert quotas["pay"] == {"pods": "30", "requests.cpu": "7", "requests.memory": "4Gi"}
    assert quotas["pay-batch"] == {"pods": "10", "requests.cpu": "1", "requests.memory": "4Gi"}


def test_binding_source_has_one_share_per_project_and_cluster() -> None:
    domain, binding = budgeted(), bound()
    assert domain.spec is not None
    assert binding.spec is not None
    source = binding_source("payments", domain.spec, binding.spec, ["a", "b"])
    assert [(s.cluster, s.namespace) for s in source.shares] == [
        ("a", "pay"),
        ("b", "pay"),
        ("a", "pay-batch"),
        ("b", "pay-batch"),
    ]
    assert total(source.shares, ["pods"]) == {"pods": Decimal(40)}


def test_a_later_source_never_squeezes_what_an_earlier_one_holds() -> None:
    # A baseline that grows into the room a sandbox holds is refused; the sandbox is not touched.
    baseline = Source("baseline", (Share("dev", "a", {"pods": "8"}),))
    sandbox = Source("sandbox", (Share("dev", "b", {"pods": "4"}),), held={"pods": Decimal(4)})
    verdict = judge("dev", {"pods": "10"}, [baseline, sandbox])
    assert "baseline" in verdict.problems
    assert "sandbox" not in verdict.problems
    assert verdict.allocated == {"pods": Decimal(4)}


def test_usage_fold_and_figures() -> None:
    hard, used = fold_used(
        [{"hard": {"pods": "10", "requests.cpu": "2"}, "used": {"pods": "3", "requests.cpu": "1500m"}}, None, {}]
    )
    assert used == {"pods": Decimal(3), "requests.cpu": Decimal("1.5")}
    entry = usage("dev", {"requests.cpu": "1", "pods": "40"}, hard, used)
    assert entry.available == {"pods": "30", "requests.cpu": "0"}  # never below 0
    assert entry.used == {"pods": "3", "requests.cpu": "1500m"}
    assert over_budget(entry) == ["requests.cpu"]
    assert summary([entry]) == "dev requests.cpu 1500m/1"


def test_summary_shows_the_busiest_environment() -> None:
    calm = BudgetUsage(environment="prod", hard={"requests.cpu": "64"}, used={"requests.cpu": "8"})
    busy = BudgetUsage(environment="dev", hard={"requests.cpu": "8"}, used={"requests.cpu": "6"})
    assert summary([calm, busy]) == "dev requests.cpu 6/8"
    assert summary([]) == ""


@pytest.mark.parametrize(
    ("resource", "value", "shown"),
    [
        ("requests.memory", "16Gi", "16Gi"),
        ("requests.memory", "1500Mi", "1500Mi"),
        ("requests.cpu", "2500m", "2500m"),
        ("requests.cpu", "64", "64"),
        ("pods", "1e3", "1000"),
        ("requests.cpu", "1n", "0.000000001"),
    ],
)
def test_show(resource: str, value: str, shown: str) -> None:
    assert show(resource, amounts({resource: value})[resource]) == shown


# --- the property --------------------------------------------------------------------------------

RESOURCES = ["requests.cpu", "pods", "limits.memory"]
hard_maps = st.dictionaries(st.sampled_from(RESOURCES), st.integers(0, 50).map(str), max_size=3)
shares = st.lists(
    st.builds(Share, st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z"]), hard_maps), max_size=6
)
sources = st.lists(
    st.builds(
        Source,
        st.uuids().map(str),
        shares.map(tuple),
        st.none() | st.dictionaries(st.sampled_from(RESOURCES), st.integers(0, 50).map(Decimal)),
    ),
    max_size=4,
    unique_by=lambda s: s.key,
)


@settings(max_examples=300, deadline=None)
@given(budget=hard_maps, candidates=sources)
def test_what_lands_never_allocates_more_than_the_budget_and_leaves_nothing_unbounded(
    budget: dict[str, str], candidates: list[Source]
) -> None:
    verdict = judge("dev", budget, candidates)
    landed = [s for s in candidates if s.key not in verdict.problems]
    limit = amounts(budget)
    for resource, ceiling in limit.items():
        assert sum((total(s.shares, [resource])[resource] for s in landed), Decimal(0)) <= ceiling
        # A frozen source keeps what it holds: nothing lands into that room either.
        kept = sum(
            ((c.held or {}).get(resource, Decimal(0)) for c in candidates if c.key in verdict.problems), Decimal(0)
        )
        if landed:
            assert sum((total(s.shares, [resource])[resource] for s in landed), kept) <= ceiling
        assert all(resource in share.hard for s in landed for share in s.shares)
    for index, source in enumerate(landed):  # nor does it take the room a later source holds
        held = [c.held or {} for c in candidates[candidates.index(source) + 1 :]]
        for resource, ceiling in limit.items():
            before = sum((total(s.shares, [resource])[resource] for s in landed[: index + 1]), Decimal(0))
            assert before + sum((h.get(resource, Decimal(0)) for h in held), Decimal(0)) <= ceiling


# --- what the host admission policy reads ----------------------------------------------------------


def test_the_host_namespace_carries_the_budgets_and_the_ceiling_for_the_admission_policy() -> None:
    domain = budgeted(
        defaultBudget={"pods": "100", "count/services": "5"},
        budgets=[{"environment": "dev", "hard": {**BUDGET, "requests.nvidia.com/gpu": "2"}}],
    )
    assert domain.spec is not None
    assert host_annotations(domain.spec) == {
        "budget.bizdomain.io/dev.requests.cpu": "8",
        "budget.bizdomain.io/dev.requests.memory": "16Gi",
        "budget.bizdomain.io/dev.pods": "40",
        "default-budget.bizdomain.io/pods": "100",
        "limits-max.bizdomain.io/cpu": "2",
        "limits-max.bizdomain.io/memory": "4Gi",
    }  # a resource with a "/" cannot be an annotation name: only the operator judges it
    world = factories.world([domain])
    (namespace,) = [d for d in desired_host(world, SETTINGS).desired if d.kind == "Namespace"]
    assert namespace.body["metadata"]["annotations"]["budget.bizdomain.io/dev.pods"] == "40"
    plain = factories.domain("plain").spec
    assert plain is not None
    assert host_annotations(plain) == {}


# --- the attacker: absurd quantities must not stop the planner -------------------------------------


@pytest.mark.parametrize("value", ["1e5000", "1e9999999"])
def test_an_absurd_quota_is_refused_by_the_model_so_the_binding_is_held_not_planned(value: str) -> None:
    # Budgeted under a name with a "/" (no host annotation, so the host policy cannot judge it).
    domain = budgeted(
        quota={**QUOTA, "count/pods": "10"}, budgets=[{"environment": "dev", "hard": {**BUDGET, "count/pods": "40"}}]
    )
    body = {
        "metadata": {"name": "dev", "namespace": "domain-payments", "uid": "uid-b", "generation": 1},
        "spec": factories.binding_spec_dict("dev", quota={"count/pods": value}),
    }
    binding = binding_record(body)
    assert binding.spec is None  # unparseable: held as it is, never planned
    assert binding.error
    tenant = tenant_on(domain, binding)
    assert tenant.hold
    assert reasons(tenant) == [names.Reason.INVALID_SPEC]


def test_the_usage_fold_skips_an_absurd_status_a_member_reports() -> None:
    hard, used = fold_used([{"hard": {"count/pods": "1e9999999"}, "used": {"count/pods": "1e5000"}}, None])
    assert hard == {}
    assert used == {}


# --- the memo: judged again exactly when something the verdict is judged from moved ---------------


def test_the_tenant_memo_judges_a_budget_again_whenever_an_input_moves() -> None:
    from bizdomain.plan import TenantMemo  # noqa: PLC0415
    from bizdomain.plan.kept import Kept  # noqa: PLC0415

    gold = {"tier": "gold"}
    selector = {"selector": {"matchLabels": gold}}
    domain, binding = budgeted(), bound(clusters=selector)
    two = [factories.member(f"dev{i}", labels=gold) for i in range(2)]
    three = [*two, factories.member("dev2", labels=gold)]
    lowered = budgeted(budgets=[{"environment": "dev", "hard": {**BUDGET, "requests.cpu": "4"}}])
    held = {"requests.cpu": "4", "requests.memory": "1Gi", "pods": "1"}
    hoarder = Kept("dev0", "payments-old", held, {}, released=True, protected=False)
    hoarding, hoarded = factories.world([domain], [binding], two), {("payments", "dev"): (hoarder,)}
    steps: list[tuple[str, Any, bool]] = [
        ("2 clusters x 2 projects x 2 cpu = 8: fits", factories.world([domain], [binding], two), False),
        ("the same again", factories.world([domain], [binding], two), False),
        ("a third gold member joins: 12 > 8", factories.world([domain], [binding], three), True),
        ("it leaves again", factories.world([domain], [binding], two), False),
        ("a released namespace keeps 4 cpu", dataclasses.replace(hoarding, kept=hoarded), True),
        ("it is gone", factories.world([domain], [binding], two), False),
        ("the budget is lowered", factories.world([lowered], [binding], two), True),
    ]
    memo = TenantMemo()
    for what, world, frozen in steps:
        remembered = plan_cluster(two[0], world, SETTINGS, memo=memo).tenants[("payments", "dev")]
        fresh = plan_cluster(two[0], world, SETTINGS).tenants[("payments", "dev")]
        assert remembered.frozen is frozen, what
        assert (remembered.problems, remembered.children) == (fresh.problems, fresh.children), what


def test_two_bindings_of_one_environment_each_keep_their_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each member plans the tenant of the binding that selects it: one memo entry per binding, not per
    # environment, or the two would evict each other on every pass.
    from bizdomain.plan import TenantMemo, cluster  # noqa: PLC0415

    spec = factories.domain_spec_dict(budgets=[{"environment": "dev", "hard": {"pods": "40"}}], quota={"pods": "1"})
    one = factories.binding("dev", factories.binding_spec_dict("dev", clusters={"names": ["dev0"]}))
    other = factories.binding("dev", factories.binding_spec_dict("dev", clusters={"names": ["dev1"]}))
    other = dataclasses.replace(other, name="dev-b", uid="uid-dev-b")
    members = [factories.member("dev0"), factories.member("dev1")]
    world = factories.world([factories.domain(spec=spec)], [one, other], members)
    judged: list[str] = []
    real = cluster.within_budget

    def counted(tenant: Any, *rest: Any) -> Any:
        judged.append(tenant.binding[1])
        return real(tenant, *rest)

    monkeypatch.setattr(cluster, "within_budget", counted)
    memo = TenantMemo()
    for _ in range(5):
        for member in members:
            plan_cluster(member, world, SETTINGS, memo=memo)
    assert sorted(judged) == ["dev", "dev-b"]
