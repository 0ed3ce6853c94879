"""Status verdicts from hand-made cluster reports: Ready, Reconciling, Degraded and per-cluster entries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bizdomain import names
from bizdomain.api.binding import EnvironmentBindingStatus
from bizdomain.api.common import Condition
from bizdomain.conditions import same_status
from bizdomain.plan import BindingRecord, DomainRecord, MemberRecord, Problem, World, place
from bizdomain.plan.kept import Kept
from bizdomain.report import ClusterReport, TenantOutcome
from bizdomain.status import binding_status, domain_status, member_status
from unit import factories
from unit.factories import SETTINGS

KEY = ("payments", "dev")
OLD_TIME = "2020-01-01T00:00:00Z"


def ok_report(cluster: str, generations: tuple[int, int] = (1, 1), **outcome: Any) -> ClusterReport:
    tenant = TenantOutcome(*KEY, namespaces=["payments"], generations=generations, **outcome)
    return ClusterReport(cluster=cluster, ok=True, tenants={KEY: tenant})


def down_report(cluster: str) -> ClusterReport:
    return ClusterReport(
        cluster=cluster, ok=False, reason=names.Reason.CLUSTER_UNREACHABLE, message="connection refused"
    )


def dev_world(binding: BindingRecord | None = None, domain: DomainRecord | None = None) -> World:
    return factories.world(
        [domain or factories.domain()],
        [binding or factories.binding()],
        [factories.member("dev-a"), factories.member("dev-b"), factories.member("prod", ("prod",))],
    )


def status_of(reports: dict[str, ClusterReport], world: World | None = None) -> EnvironmentBindingStatus:
    world = world or dev_world()
    (binding,) = world.bindings.values()
    return binding_status(binding, world, reports, SETTINGS, place(world))


def conditions(conds: list[Condition]) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in conds}


def condition(conds: list[Condition], type_: str) -> Condition:
    return next(c for c in conds if c.type == type_)


# --- binding_status ----------------------------------------------------------------------------------


def test_all_clusters_ok_and_fresh_is_ready() -> None:
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": ok_report("dev-b")})

    assert conditions(status.conditions) == {
        "Ready": ("True", names.Reason.RECONCILED),
        "Reconciling": ("False", "Idle"),
        "Degraded": ("False", "AsExpected"),
    }
    assert condition(status.conditions, "Ready").message == "converged on 2 cluster(s)"
    assert status.observed_generation == 1
    assert all(c.observed_generation == 1 for c in status.conditions)
    assert status.domain == "payments"
    assert [(c.cluster, c.ready, c.reason) for c in status.clusters] == [
        ("dev-a", True, names.Reason.RECONCILED),
        ("dev-b", True, names.Reason.RECONCILED),
    ]
    assert status.clusters[0].namespaces == ["payments"]
    assert status.summary.clusters == "2/2"


def test_a_failing_cluster_degrades_the_binding_and_the_others_stay_ready() -> None:
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": down_report("dev-b")})

    assert conditions(status.conditions) == {
        "Ready": ("False", names.Reason.CLUSTER_UNREACHABLE),
        "Reconciling": ("False", "Idle"),
        "Degraded": ("True", names.Reason.CLUSTER_UNREACHABLE),
    }
    assert "dev-b: connection refused" in condition(status.conditions, "Degraded").message
    assert "dev-a" not in condition(status.conditions, "Degraded").message
    by_cluster = {c.cluster: c for c in status.clusters}
    assert by_cluster["dev-a"].ready
    assert by_cluster["dev-a"].reason == names.Reason.RECONCILED
    assert not by_cluster["dev-b"].ready
    assert by_cluster["dev-b"].reason == names.Reason.CLUSTER_UNREACHABLE
    assert by_cluster["dev-b"].message == "connection refused"
    assert status.summary.clusters == "1/2"


def test_apply_errors_on_one_cluster_are_sync_failed() -> None:
    broken = ok_report("dev-b", ok=False, errors=["applying RoleBinding payments/x failed: 403 Forbidden: no"])
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": broken})
    assert conditions(status.conditions)["Ready"] == ("False", names.Reason.SYNC_FAILED)
    assert conditions(status.conditions)["Degraded"] == ("True", names.Reason.SYNC_FAILED)
    assert "403 Forbidden" in condition(status.conditions, "Ready").message


def test_a_blocking_problem_gives_its_reason() -> None:
    conflict = Problem(names.Reason.NAMESPACE_CONFLICT, "namespace 'payments' is already planned for billing")
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": ok_report("dev-b", problems=[conflict])})
    assert conditions(status.conditions)["Degraded"] == ("True", names.Reason.NAMESPACE_CONFLICT)
    entry = next(c for c in status.clusters if c.cluster == "dev-b")
    assert (entry.ready, entry.reason, entry.message) == (False, names.Reason.NAMESPACE_CONFLICT, conflict.message)


def test_a_blocked_deletion_is_a_warning_not_a_failure() -> None:
    blocked = Problem(names.Reason.DELETION_BLOCKED, "deletionPolicy Delete is not allowed in 'prod'")
    reports = {"dev-a": ok_report("dev-a", problems=[blocked]), "dev-b": ok_report("dev-b", problems=[blocked])}
    status = status_of(reports)
    assert conditions(status.conditions)["Ready"] == ("True", names.Reason.RECONCILED)
    assert "dev-a: deletionPolicy Delete" in condition(status.conditions, "Ready").message
    assert all(c.ready for c in status.clusters)


def test_no_report_yet_is_reconciling() -> None:
    status = status_of({})
    assert conditions(status.conditions) == {
        "Ready": ("False", names.Reason.PROGRESSING),
        "Reconciling": ("True", names.Reason.PROGRESSING),
        "Degraded": ("False", "AsExpected"),
    }
    assert [(c.cluster, c.ready, c.reason) for c in status.clusters] == [
        ("dev-a", False, names.Reason.PENDING),
        ("dev-b", False, names.Reason.PENDING),
    ]
    assert status.summary.clusters == "0/2"


def test_one_cluster_not_reported_yet_is_still_reconciling() -> None:
    status = status_of({"dev-a": ok_report("dev-a")})
    assert conditions(status.conditions)["Ready"] == ("False", names.Reason.PROGRESSING)
    assert conditions(status.conditions)["Reconciling"] == ("True", names.Reason.PROGRESSING)


def test_a_report_without_this_tenant_is_pending() -> None:
    empty = ClusterReport(cluster="dev-b", ok=True)
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": empty})
    assert next(c for c in status.clusters if c.cluster == "dev-b").reason == names.Reason.PENDING
    assert conditions(status.conditions)["Reconciling"] == ("True", names.Reason.PROGRESSING)


@pytest.mark.parametrize(
    ("domain_gen", "binding_gen"), [(2, 1), (1, 2)], ids=["domain-changed-since", "binding-changed-since"]
)
def test_reports_of_older_generations_are_not_ready(domain_gen: int, binding_gen: int) -> None:
    world = dev_world(factories.binding(generation=binding_gen), factories.domain(generation=domain_gen))
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": ok_report("dev-b")}, world)
    assert conditions(status.conditions)["Ready"] == ("False", names.Reason.PROGRESSING)
    assert conditions(status.conditions)["Reconciling"] == ("True", names.Reason.PROGRESSING)
    assert status.observed_generation == binding_gen


def test_failure_while_another_cluster_is_stale_is_degraded_and_reconciling() -> None:
    world = dev_world(factories.binding(generation=2))
    status = status_of({"dev-a": ok_report("dev-a", (1, 1)), "dev-b": down_report("dev-b")}, world)
    assert conditions(status.conditions)["Degraded"] == ("True", names.Reason.CLUSTER_UNREACHABLE)
    assert conditions(status.conditions)["Reconciling"] == ("True", names.Reason.PROGRESSING)


def status_with_previous(previous: list[dict[str, Any]], reports: dict[str, ClusterReport]) -> EnvironmentBindingStatus:
    binding = BindingRecord(**{**factories.binding().__dict__, "status": {"conditions": previous}})
    return status_of(reports, dev_world(binding))


def converged_before() -> list[dict[str, Any]]:
    """The conditions of a binding that was ready (and nothing else) since OLD_TIME."""
    return [
        {"type": "Ready", "status": "True", "reason": "Reconciled", "lastTransitionTime": OLD_TIME},
        {"type": "Reconciling", "status": "False", "reason": "Idle", "lastTransitionTime": OLD_TIME},
        {"type": "Degraded", "status": "False", "reason": "AsExpected", "lastTransitionTime": OLD_TIME},
    ]


def test_last_transition_time_is_kept_when_the_status_did_not_flip() -> None:
    previous = converged_before()
    status = status_with_previous(previous, {"dev-a": ok_report("dev-a"), "dev-b": ok_report("dev-b")})
    assert {c.type: c.last_transition_time for c in status.conditions} == {
        "Ready": OLD_TIME,
        "Reconciling": OLD_TIME,
        "Degraded": OLD_TIME,
    }


def test_last_transition_time_moves_only_for_conditions_that_flipped() -> None:
    previous = converged_before()
    status = status_with_previous(previous, {"dev-a": ok_report("dev-a"), "dev-b": down_report("dev-b")})
    times = {c.type: c.last_transition_time for c in status.conditions}
    assert times["Reconciling"] == OLD_TIME
    assert times["Ready"] != OLD_TIME
    assert times["Degraded"] != OLD_TIME
    assert times["Ready"] is not None
    assert times["Ready"].endswith("Z")


def test_a_new_status_stamps_every_condition() -> None:
    status = status_of({})
    assert all(c.last_transition_time and c.last_transition_time.endswith("Z") for c in status.conditions)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("outside-domain-namespace", names.Reason.NOT_IN_DOMAIN_NAMESPACE),
        ("domain-missing", names.Reason.DOMAIN_NOT_FOUND),
        ("binding-unparseable", names.Reason.INVALID_SPEC),
        ("domain-unparseable", names.Reason.INVALID_SPEC),
        ("no-clusters", names.Reason.NO_CLUSTERS),
        ("unknown-cluster", names.Reason.UNKNOWN_CLUSTER),
    ],
)
def test_binding_that_cannot_be_placed(case: str, reason: str) -> None:
    binding, domains = factories.binding(), [factories.domain()]
    if case == "outside-domain-namespace":
        binding = BindingRecord(**{**binding.__dict__, "namespace": "team-payments"})
    elif case == "domain-missing":
        domains = []
    elif case == "binding-unparseable":
        binding = factories.binding(error="spec.environment: Field required")
    elif case == "domain-unparseable":
        domains = [factories.domain(error="spec.owners: Field required")]
    elif case == "no-clusters":
        binding = factories.binding("qa")
    elif case == "unknown-cluster":
        binding = factories.binding("dev", factories.binding_spec_dict(clusters={"names": ["dev-a", "mars"]}))
    world = factories.world(domains, [binding], [factories.member("dev-a"), factories.member("dev-b")])

    status = binding_status(binding, world, {"dev-a": ok_report("dev-a")}, SETTINGS, place(world))

    assert conditions(status.conditions) == {
        "Ready": ("False", reason),
        "Reconciling": ("False", "Idle"),
        "Degraded": ("True", reason),
    }
    if case == "unknown-cluster":
        assert "mars" in condition(status.conditions, "Ready").message
    if case.endswith("unparseable"):
        assert "Field required" in condition(status.conditions, "Ready").message


# --- domain_status -----------------------------------------------------------------------------------


def bound_status(environment: str, reports: dict[str, ClusterReport], **binding_fields: Any) -> Any:
    spec = factories.binding_spec_dict(environment, **binding_fields)
    binding = factories.binding(environment, spec)
    world = factories.world(
        [factories.domain()],
        [binding],
        [factories.member("dev-a"), factories.member("dev-b"), factories.member("prod", ("prod",))],
    )
    return binding, binding_status(binding, world, reports, SETTINGS, place(world))


def prod_report(cluster: str = "prod") -> ClusterReport:
    tenant = TenantOutcome("payments", "prod", namespaces=["payments"], generations=(1, 1))
    return ClusterReport(cluster=cluster, ok=True, tenants={("payments", "prod"): tenant})


def test_domain_ready_when_every_environment_is() -> None:
    dev = bound_status("dev", {"dev-a": ok_report("dev-a"), "dev-b": ok_report("dev-b")})
    prod = bound_status("prod", {"prod": prod_report()})

    status = domain_status(factories.domain(generation=3), [prod, dev], SETTINGS)

    assert conditions(status.conditions)["Ready"] == ("True", names.Reason.RECONCILED)
    assert condition(status.conditions, "Ready").message == "ready in 2 environment(s) on 3 cluster(s)"
    assert status.observed_generation == 3
    assert status.host_namespace == "domain-payments"
    assert [(e.environment, e.binding, e.ready) for e in status.environments] == [
        ("dev", "dev", True),
        ("prod", "prod", True),
    ]
    assert status.summary.environments == "dev,prod"
    assert status.summary.clusters == "3/3"


def test_domain_degraded_when_an_environment_fails_and_the_cluster_entries_say_which() -> None:
    dev = bound_status("dev", {"dev-a": ok_report("dev-a"), "dev-b": down_report("dev-b")})
    prod = bound_status("prod", {"prod": prod_report()})

    status = domain_status(factories.domain(), [dev, prod], SETTINGS)

    assert conditions(status.conditions) == {  # the domain carries the failing binding's reason
        "Ready": ("False", names.Reason.CLUSTER_UNREACHABLE),
        "Reconciling": ("False", "Idle"),
        "Degraded": ("True", names.Reason.CLUSTER_UNREACHABLE),
    }
    assert condition(status.conditions, "Ready").message == "not ready in dev"
    dev_env = status.environments[0]
    assert not dev_env.ready
    assert {c.cluster: (c.ready, c.reason) for c in dev_env.clusters} == {
        "dev-a": (True, names.Reason.RECONCILED),
        "dev-b": (False, names.Reason.CLUSTER_UNREACHABLE),
    }
    assert status.environments[1].ready
    assert status.summary.clusters == "2/3"


def test_domain_reconciling_while_its_bindings_are() -> None:
    dev = bound_status("dev", {})
    status = domain_status(factories.domain(), [dev], SETTINGS)
    assert conditions(status.conditions) == {
        "Ready": ("False", names.Reason.PROGRESSING),
        "Reconciling": ("True", names.Reason.PROGRESSING),
        "Degraded": ("False", "AsExpected"),
    }


def test_domain_without_bindings_is_ready_and_says_so() -> None:
    status = domain_status(factories.domain(), [], SETTINGS)
    assert conditions(status.conditions)["Ready"] == ("True", names.Reason.RECONCILED)
    assert "not bound" in condition(status.conditions, "Ready").message
    assert status.summary.environments == ""
    assert status.summary.clusters == "0/0"


def test_unparseable_domain_is_invalid() -> None:
    status = domain_status(factories.domain(error="spec.displayName: too long"), [], SETTINGS)
    assert conditions(status.conditions)["Degraded"] == ("True", names.Reason.INVALID_SPEC)
    assert condition(status.conditions, "Ready").message == "spec.displayName: too long"


def test_domain_keeps_last_transition_time_when_nothing_flipped() -> None:
    previous = [
        {"type": t, "status": s, "reason": "x", "lastTransitionTime": OLD_TIME}
        for t, s in (("Ready", "True"), ("Reconciling", "False"), ("Degraded", "False"))
    ]
    domain = DomainRecord(**{**factories.domain().__dict__, "status": {"conditions": previous}})
    status = domain_status(domain, [], SETTINGS)
    assert {c.last_transition_time for c in status.conditions} == {OLD_TIME}


# --- member_status and same_status -------------------------------------------------------------------


def test_member_reachable() -> None:
    status = member_status(factories.member("dev"), ok_report("dev"), "v1.31.0")
    # A ready condition's reason is always Reconciled; the message says what was seen.
    assert conditions(status.conditions)["Ready"] == ("True", names.Reason.REACHABLE)
    assert condition(status.conditions, "Ready").message == "reachable, Kubernetes v1.31.0"
    assert status.kubernetes_version == "v1.31.0"
    assert status.last_probe_time


@pytest.mark.parametrize("reason", [names.Reason.CLUSTER_UNREACHABLE, names.Reason.CREDENTIALS_INVALID])
def test_member_unreachable(reason: str) -> None:
    report = ClusterReport(cluster="dev", ok=False, reason=reason, message="dial tcp: refused")
    status = member_status(factories.member("dev"), report, None)
    assert conditions(status.conditions)["Ready"] == ("False", reason)
    assert conditions(status.conditions)["Degraded"] == ("True", reason)


def test_member_not_probed_yet() -> None:
    status = member_status(factories.member("dev"), None, None)
    assert conditions(status.conditions)["Reconciling"] == ("True", names.Reason.PROGRESSING)


def test_member_keeps_its_last_probe_time_in_a_steady_state() -> None:
    first = member_status(factories.member("dev"), ok_report("dev"), "v1.31.0").to_wire()
    first["lastProbeTime"] = OLD_TIME
    member = MemberRecord(**{**factories.member("dev").__dict__, "status": first})
    again = member_status(member, ok_report("dev"), "v1.31.0")
    assert again.last_probe_time == OLD_TIME
    assert same_status(again.to_wire(), first)


def test_same_status() -> None:
    old = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    assert same_status({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}, old)
    assert not same_status({"observedGeneration": 2}, old)
    assert not same_status({"conditions": []}, old)
    # A field the object holds that the new status no longer has is written away.
    assert not same_status({"observedGeneration": 1}, {**old, "summary": {"clusters": "1/1"}})


def test_a_host_namespace_conflict_makes_the_domain_unready_and_says_why() -> None:
    message = "host namespace 'domain-payments' already exists and was not created by bizdomain for this ..."
    status = domain_status(factories.domain(), [], SETTINGS, host_conflict=message)
    ready, reconciling, degraded = status.conditions
    assert (ready.status, ready.reason, ready.message) == ("False", names.Reason.HOST_NAMESPACE_CONFLICT, message)
    assert (reconciling.status, degraded.status, degraded.reason) == ("False", "True", "HostNamespaceConflict")


# --- budgets -----------------------------------------------------------------------------------------


def budgeted_world(pods: str = "10") -> World:
    spec = factories.domain_spec_dict(budgets=[{"environment": "dev", "hard": {"pods": pods, "requests.cpu": "4"}}])
    return dev_world(domain=factories.domain(spec=spec))


def used_report(cluster: str, pods: int, cpu: str) -> ClusterReport:
    return ok_report(
        cluster,
        quota_hard={"pods": Decimal(5), "requests.cpu": Decimal(2)},
        quota_used={"pods": Decimal(pods), "requests.cpu": Decimal(cpu)},
    )


def test_usage_is_summed_over_the_clusters_and_unreachable_ones_add_nothing() -> None:
    world = budgeted_world()
    status = status_of({"dev-a": used_report("dev-a", 3, "1.5"), "dev-b": down_report("dev-b")}, world)
    assert status.budget is not None
    assert status.budget.hard == {"pods": "10", "requests.cpu": "4"}
    assert status.budget.allocated == {"pods": "5", "requests.cpu": "2"}
    assert status.budget.used == {"pods": "3", "requests.cpu": "1500m"}
    assert status.budget.available == {"pods": "5", "requests.cpu": "2"}
    assert condition(status.conditions, names.COND_OVER_BUDGET).status == "False"
    domain_world = world.domains["payments"]
    dstatus = domain_status(domain_world, [(next(iter(world.bindings.values())), status)], SETTINGS)
    assert dstatus.budgets == [status.budget]
    assert dstatus.summary.budget == "dev requests.cpu 1500m/4"


def test_usage_past_a_lowered_budget_says_over_budget_on_binding_and_domain() -> None:
    world = budgeted_world(pods="4")
    status = status_of({"dev-a": used_report("dev-a", 3, "1"), "dev-b": used_report("dev-b", 2, "1")}, world)
    cond = condition(status.conditions, names.COND_OVER_BUDGET)
    assert (cond.status, cond.reason) == ("True", names.Reason.OVER_BUDGET)
    assert cond.message.startswith("dev pods used 5 > budget 4")
    dstatus = domain_status(world.domains["payments"], [(next(iter(world.bindings.values())), status)], SETTINGS)
    assert condition(dstatus.conditions, names.COND_OVER_BUDGET).status == "True"


def test_what_sandboxes_and_released_namespaces_hold_is_allocated_and_used_on_any_member() -> None:
    world = budgeted_world(pods="10")
    dev_a = used_report("dev-a", 3, "1")
    # On dev-a the tenant's own namespace (placed: counted once) and one it released; on a member the
    # binding no longer selects, another released one; a member that failed its pass shows nothing.
    dev_a.kept = {KEY: (kept("dev-a", "payments", pods="5"), kept("dev-a", "payments-old", pods="4"))}
    sandbox = kept("dev-c", "payments--try", pods="2")  # a sandbox's namespace counts for dev too
    elsewhere = ClusterReport("dev-c", ok=True, kept={KEY: (kept("dev-c", "payments-older", pods="1"), sandbox)})
    down = down_report("dev-b")
    down.kept = {KEY: (kept("dev-b", "payments-gone", pods="100"),)}
    status = status_of({"dev-a": dev_a, "dev-b": down, "dev-c": elsewhere}, world)
    assert status.budget is not None
    assert status.budget.allocated == {"pods": "12", "requests.cpu": "2"}  # 5 + 4 + 3
    assert status.budget.used == {"pods": "6", "requests.cpu": "1"}  # 3 + 1 + 1 + 1
    assert status.budget.available == {"pods": "0", "requests.cpu": "2"}


def kept(cluster: str, namespace: str, pods: str) -> Kept:
    return Kept(cluster, namespace, {"pods": pods}, {"pods": "1"}, released=True, protected=False)


def test_no_budget_no_budget_status_and_no_over_budget_condition() -> None:
    status = status_of({"dev-a": ok_report("dev-a"), "dev-b": ok_report("dev-b")})
    assert status.budget is None
    assert names.COND_OVER_BUDGET not in {c.type for c in status.conditions}


def test_two_bindings_of_one_environment_each_show_the_domains_whole_figures_and_over_budget() -> None:
    # The budget is the domain's in dev, whichever binding places the namespaces: each binding (and the
    # domain, once) shows what all of them hold and use. Were each binding to show only its own members,
    # two bindings on disjoint members using 6 pods each (12 > 10) would both say "within budget".
    spec = factories.domain_spec_dict(budgets=[{"environment": "dev", "hard": {"pods": "10", "requests.cpu": "4"}}])
    domain = factories.domain(spec=spec)
    first = factories.binding("dev", factories.binding_spec_dict("dev", clusters={"names": ["dev-a"]}))
    second = factories.binding("dev", factories.binding_spec_dict("dev", clusters={"names": ["dev-b"]}))
    second = BindingRecord(**{**second.__dict__, "name": "dev-b", "uid": "uid-payments-dev-b"})
    world = factories.world([domain], [first, second], [factories.member("dev-a"), factories.member("dev-b")])
    reports = {"dev-a": used_report("dev-a", 6, "1"), "dev-b": used_report("dev-b", 6, "1")}
    statuses = [(b, binding_status(b, world, reports, SETTINGS, place(world))) for b in (first, second)]
    for _, status in statuses:
        assert status.budget is not None
        assert status.budget.allocated == {"pods": "10", "requests.cpu": "4"}
        assert status.budget.used == {"pods": "12", "requests.cpu": "2"}
        assert condition(status.conditions, names.COND_OVER_BUDGET).status == "True"
    dstatus = domain_status(domain, statuses, SETTINGS)
    assert [b.environment for b in dstatus.budgets] == ["dev"]
    assert condition(dstatus.conditions, names.COND_OVER_BUDGET).status == "True"
