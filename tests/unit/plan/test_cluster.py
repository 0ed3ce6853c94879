"""plan_cluster: which bindings land on a member, frozen tenants, namespace conflicts, determinism."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bizdomain import names
from bizdomain.decide import decide
from bizdomain.plan import (
    BindingRecord,
    ClusterPlan,
    MemberRecord,
    World,
    binding_clusters,
    binding_domain,
    domain_for_namespace,
    foreign_clusters,
    plan_cluster,
    selects,
    tenant_labels,
    unknown_clusters,
)
from unit import factories, strategies
from unit.factories import SETTINGS

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
GOLD_EU = {"tier": "gold", "region": "eu"}


def bound(environment: str = "dev", domain: str = "payments", **fields: Any) -> BindingRecord:
    return factories.binding(environment, factories.binding_spec_dict(environment, **fields), domain=domain)


# --- selection -----------------------------------------------------------------------------------


def test_default_selection_is_every_member_serving_the_environment() -> None:
    binding = bound("dev")
    assert selects(binding, factories.member("dev", ("dev",)))
    assert selects(binding, factories.member("shared", ("prod", "dev")))
    assert not selects(binding, factories.member("prod", ("prod",)))


def test_selection_by_names_narrows_to_members_serving_the_environment() -> None:
    # Names narrow the members serving the environment; they never reach a member that serves
    # another one (a dev binding naming the prod cluster lands nowhere).
    binding = bound("dev", clusters={"names": ["edge"]})
    assert not selects(binding, factories.member("edge", ("prod",)))
    assert selects(binding, factories.member("edge", ("dev", "prod")))
    assert not selects(binding, factories.member("dev", ("dev",)))


def test_foreign_clusters_are_the_named_members_of_other_environments() -> None:
    binding = bound("dev", clusters={"names": ["prod", "dev", "nowhere"]})
    world = factories.world(
        [factories.domain()], [binding], [factories.member("prod", ("prod",)), factories.member("dev")]
    )
    assert foreign_clusters(binding, world) == ["prod"]
    assert binding_clusters(binding, world) == ["dev"]


def test_empty_name_list_selects_nothing() -> None:
    assert not selects(bound("dev", clusters={"names": []}), factories.member("dev", ("dev",)))


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    """A selector with one matchExpression."""
    requirement: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        requirement["values"] = list(values)
    return {"matchExpressions": [requirement]}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        pytest.param({"matchLabels": {"tier": "gold"}}, GOLD_EU, True, id="matchLabels-hit"),
        pytest.param({"matchLabels": {"tier": "silver"}}, GOLD_EU, False, id="matchLabels-other-value"),
        pytest.param({"matchLabels": {"zone": "a"}}, GOLD_EU, False, id="matchLabels-missing-key"),
        pytest.param({"matchLabels": {"tier": "gold", "region": "us"}}, GOLD_EU, False, id="matchLabels-all-needed"),
        pytest.param(expr("region", "In", "eu", "us"), GOLD_EU, True, id="In-hit"),
        pytest.param(expr("region", "In", "us"), GOLD_EU, False, id="In-miss"),
        pytest.param(expr("zone", "In", "a"), GOLD_EU, False, id="In-absent-key"),
        pytest.param(expr("region", "NotIn", "us"), GOLD_EU, True, id="NotIn-hit"),
        pytest.param(expr("region", "NotIn", "eu"), GOLD_EU, False, id="NotIn-miss"),
        pytest.param(expr("zone", "NotIn", "a"), GOLD_EU, True, id="NotIn-absent-key"),
        pytest.param(expr("tier", "Exists"), GOLD_EU, True, id="Exists-hit"),
        pytest.param(expr("zone", "Exists"), GOLD_EU, False, id="Exists-miss"),
        pytest.param(expr("zone", "DoesNotExist"), GOLD_EU, True, id="DoesNotExist-hit"),
        pytest.param(expr("tier", "DoesNotExist"), GOLD_EU, False, id="DoesNotExist-miss"),
        pytest.param(
            {"matchLabels": {"tier": "gold"}, **expr("region", "In", "eu")}, GOLD_EU, True, id="labels-and-expression"
        ),
        pytest.param(
            {"matchLabels": {"tier": "gold"}, **expr("region", "NotIn", "eu")},
            GOLD_EU,
            False,
            id="labels-and-failing-expression",
        ),
        pytest.param({}, {}, True, id="empty-selector-selects-all"),
    ],
)
def test_selection_by_label_selector(selector: dict[str, Any], labels: dict[str, str], expected: bool) -> None:
    binding = bound("dev", clusters={"selector": selector})
    assert selects(binding, factories.member("m", ("dev",), labels)) is expected
    # A selector, like names, only narrows: a member serving another environment is never selected.
    assert not selects(binding, factories.member("m", ("prod",), labels))


def test_nothing_selects_a_member_without_spec() -> None:
    assert not selects(bound("dev"), MemberRecord(name="dev", spec=None, error="bad"))


def test_binding_clusters_skips_deleting_members_and_sorts() -> None:
    world = factories.world(
        members=[
            factories.member("zeta", ("dev",)),
            factories.member("alpha", ("dev",)),
            factories.member("gone", ("dev",), deleting=True),
            factories.member("prod", ("prod",)),
        ]
    )
    assert binding_clusters(bound("dev"), world) == ["alpha", "zeta"]


def test_unknown_clusters_lists_names_without_a_member() -> None:
    world = factories.world(members=[factories.member("dev")])
    assert unknown_clusters(bound("dev", clusters={"names": ["dev", "mars", "venus"]}), world) == ["mars", "venus"]
    assert unknown_clusters(bound("dev"), world) == []


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [("domain-payments", "payments"), ("domain-", None), ("payments", None), ("kube-system", None)],
)
def test_domain_for_namespace(namespace: str, expected: str | None) -> None:
    assert domain_for_namespace(namespace, SETTINGS) == expected


def test_binding_domain_is_found_through_its_namespace() -> None:
    world = factories.world([factories.domain("payments")])
    assert binding_domain(bound("dev", "payments"), world, SETTINGS) is world.domains["payments"]
    assert binding_domain(bound("dev", "billing"), world, SETTINGS) is None


# --- the plan of one member ----------------------------------------------------------------------


def payments_world(**binding_fields: Any) -> World:
    return factories.world(
        [factories.domain("payments")],
        [bound("dev", **binding_fields), bound("prod", **binding_fields)],
        [factories.member("dev", ("dev",)), factories.member("prod", ("prod",))],
    )


def test_member_gets_platform_roles_the_workspace_crd_and_its_tenants() -> None:
    world = payments_world()
    plan = plan_cluster(world.members["dev"], world, SETTINGS)
    assert plan.cluster == "dev"
    assert [r.name for r in plan.platform] == [
        "bizdomain.io:admin",
        "bizdomain.io:developer",
        "bizdomain.io:viewer",
        "bizdomain.io:deployer",
    ]
    assert plan.crd.key == ("CustomResourceDefinition", None, "workspaces.bizdomain.io")
    assert list(plan.tenants) == [("payments", "dev")]
    assert plan.tenants[("payments", "dev")].namespaces == ["payments"]
    assert not any(t.frozen for t in plan.tenants.values())


def test_a_member_serving_nothing_bound_gets_only_the_platform() -> None:
    world = payments_world()
    plan = plan_cluster(factories.member("qa", ("qa",)), world, SETTINGS)
    assert plan.tenants == {}
    assert len(plan.platform) == 4


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"domain_deleting": True}, id="domain-deleting"),
        pytest.param({"binding_deleting": True}, id="binding-deleting"),
        pytest.param({"domain_missing": True}, id="domain-missing"),
        pytest.param({"outside_domain_namespace": True}, id="binding-outside-domain-namespace"),
    ],
)
def test_no_tenant_when_domain_or_binding_is_gone(change: dict[str, bool]) -> None:
    domains = [] if change.get("domain_missing") else [factories.domain(deleting=change.get("domain_deleting", False))]
    binding = factories.binding(deleting=change.get("binding_deleting", False))
    if change.get("outside_domain_namespace"):
        binding = BindingRecord(**{**binding.__dict__, "namespace": "team-payments"})
    world = factories.world(domains, [binding], [factories.member("dev")])
    assert plan_cluster(world.members["dev"], world, SETTINGS).tenants == {}


@pytest.mark.parametrize("broken", ["domain", "binding"])
def test_unparseable_spec_freezes_the_tenant(broken: str) -> None:
    domain = factories.domain(error="spec.owners: field required" if broken == "domain" else None)
    binding = factories.binding(error="spec.environment: field required" if broken == "binding" else None)
    world = factories.world([domain], [binding], [factories.member("dev")])

    plan = plan_cluster(world.members["dev"], world, SETTINGS)

    tenant = plan.tenants[("payments", "dev")]
    assert tenant.frozen
    assert tenant.hold, "unparseable: left exactly as it is"
    assert tenant.objects == []
    assert tenant.deletion_policy == "Retain"
    assert [p.reason for p in tenant.problems] == [names.Reason.INVALID_SPEC]
    assert "field required" in tenant.problems[0].message


def test_unparseable_binding_is_frozen_even_on_members_it_might_not_select() -> None:
    # Without a spec there is no telling which clusters it selects: freeze everywhere, prune nowhere.
    world = factories.world(
        [factories.domain()], [factories.binding("dev", error="bad")], [factories.member("prod", ("prod",))]
    )
    assert plan_cluster(world.members["prod"], world, SETTINGS).tenants[("payments", "dev")].hold


def test_a_frozen_tenant_does_not_stop_the_others() -> None:
    bad = bound("dev", "billing", access=[{"department": "ghosts", "role": "admin"}])
    world = factories.world(
        [factories.domain("payments"), factories.domain("billing")],
        [bound("dev", "payments"), bad],
        [factories.member("dev")],
    )
    plan = plan_cluster(world.members["dev"], world, SETTINGS)
    assert {k for k, t in plan.tenants.items() if t.frozen} == {("billing", "dev")}
    assert plan.tenants[("payments", "dev")].objects


def decided(world: World, member: str) -> ClusterPlan:
    """The plan of ``member`` as decided against an empty member (no namespace exists yet)."""
    return decide(plan_cluster(world.members[member], world, SETTINGS), {}, {}, SETTINGS).plan


def two_domains_one_namespace(older: str, newer: str, *, same_time: bool = False) -> World:
    """Both domains plan namespace 'shared' on member dev."""
    spec = factories.domain_spec_dict(projects=[{"name": "shared"}, {"name": "own"}])
    binding = factories.binding_spec_dict("dev", namespaceTemplate="{project}")
    return factories.world(
        [
            factories.domain(older, spec, created="2024-01-01T00:00:00Z"),
            factories.domain(newer, spec, created="2024-01-01T00:00:00Z" if same_time else "2024-02-01T00:00:00Z"),
        ],
        [
            factories.binding("dev", binding, domain=older, created="2024-03-01T00:00:00Z"),
            factories.binding("dev", binding, domain=newer, created="2024-01-01T00:00:00Z"),
        ],
        [factories.member("dev")],
    )


@pytest.mark.parametrize(
    ("older", "newer", "same_time"),
    [
        pytest.param("zebra", "aardvark", False, id="older-domain-wins-over-name"),
        pytest.param("aardvark", "zebra", True, id="same-age-first-name-wins"),
    ],
)
def test_namespace_conflict_goes_to_the_older_domain(older: str, newer: str, same_time: bool) -> None:
    world = two_domains_one_namespace(older, newer, same_time=same_time)
    plan = decided(world, "dev")

    winner, loser = plan.tenants[(older, "dev")], plan.tenants[(newer, "dev")]
    assert winner.namespaces == ["shared", "own"]
    assert winner.problems == []
    assert loser.namespaces == []  # "own" also collides: both domains use the same project names
    assert {p.reason for p in loser.problems} == {names.Reason.NAMESPACE_CONFLICT}
    assert older not in loser.problems[0].message, "a conflict never names the other tenant"
    assert not loser.frozen, "a conflict drops the namespace; the rest of the tenant converges"
    assert [o.kind for o in loser.objects] == ["Workspace"]
    assert loser.objects[0].body["spec"]["namespaces"] == []


def test_conflict_drops_only_the_colliding_namespace_and_its_contents() -> None:
    a = factories.domain_spec_dict(projects=[{"name": "shared"}, {"name": "a-only"}], quota={"pods": "1"})
    b = factories.domain_spec_dict(projects=[{"name": "shared"}, {"name": "b-only"}], quota={"pods": "1"})
    world = factories.world(
        [factories.domain("alpha", a), factories.domain("beta", b, created="2024-05-01T00:00:00Z")],
        [bound("dev", "alpha"), bound("dev", "beta")],
        [factories.member("dev")],
    )
    loser = decided(world, "dev").tenants[("beta", "dev")]
    assert loser.namespaces == ["b-only"]
    assert {o.namespace for o in loser.objects if o.namespace} == {"b-only"}
    assert ("Namespace", None, "shared") not in {o.key for o in loser.objects}
    assert loser.objects[0].body["spec"]["namespaces"] == ["b-only"]


def test_two_environments_of_one_domain_on_one_member_conflict_by_age() -> None:
    # A cluster serving dev and prod with the default template: both bindings want 'payments'.
    world = factories.world(
        [factories.domain()],
        [
            factories.binding("prod", created="2024-01-01T00:00:00Z"),
            factories.binding("dev", created="2024-02-01T00:00:00Z"),
        ],
        [factories.member("shared", ("dev", "prod"))],
    )
    plan = decided(world, "shared")
    assert plan.tenants[("payments", "prod")].namespaces == ["payments"]
    assert plan.tenants[("payments", "dev")].namespaces == []
    assert [p.reason for p in plan.tenants[("payments", "dev")].problems] == [names.Reason.NAMESPACE_CONFLICT]


# --- determinism ---------------------------------------------------------------------------------


def shuffled(world: World, seed: int) -> World:
    rng = random.Random(seed)

    def mix(mapping: dict[Any, Any]) -> dict[Any, Any]:
        items = list(mapping.items())
        rng.shuffle(items)
        return dict(items)

    return World(domains=mix(world.domains), bindings=mix(world.bindings), members=mix(world.members))


def canonical(plan: ClusterPlan) -> Any:
    """Everything observable of a plan, with tenants in a fixed order."""
    return (
        plan.cluster,
        [d.body for d in plan.platform],
        plan.crd.body,
        sorted(
            (key, t.namespaces, [o.body for o in t.objects], t.problems, t.frozen, t.deletion_policy)
            for key, t in plan.tenants.items()
        ),
    )


def test_same_input_twice_gives_the_same_plan() -> None:
    world = two_domains_one_namespace("zebra", "aardvark")
    first = plan_cluster(world.members["dev"], world, SETTINGS)
    second = plan_cluster(world.members["dev"], world, SETTINGS)
    assert first == second
    assert canonical(first) == canonical(second)


@pytest.mark.parametrize("seed", range(5))
def test_input_order_does_not_change_the_plan(seed: int) -> None:
    world = two_domains_one_namespace("zebra", "aardvark", same_time=True)
    assert canonical(plan_cluster(world.members["dev"], shuffled(world, seed), SETTINGS)) == canonical(
        plan_cluster(world.members["dev"], world, SETTINGS)
    )


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(world=strategies.worlds())
def test_property_cluster_plans_are_consistent(world: World) -> None:
    for member in world.members.values():
        plan = decide(plan_cluster(member, world, SETTINGS), {}, {}, SETTINGS).plan

        keys = [d.key for d in plan.platform] + [plan.crd.key]
        owners: dict[str, tuple[str, str]] = {}
        for key, tenant in plan.tenants.items():
            assert tenant.key == key
            labels = tenant_labels(*key)
            for obj in tenant.objects:
                assert labels.items() <= obj.body["metadata"]["labels"].items(), obj.key
                keys.append(obj.key)
            for namespace in tenant.namespaces:
                assert len(namespace) <= 63
                assert DNS_LABEL.match(namespace), namespace
                assert namespace not in owners, f"{namespace} planned for {owners.get(namespace)} and {key}"
                owners[namespace] = key
        assert len(keys) == len(set(keys)), "object keys are unique within a cluster plan"


@settings(max_examples=40, deadline=None)
@given(world=strategies.worlds(), seed=st.integers(0, 2**16))
def test_property_plans_do_not_depend_on_input_order(world: World, seed: int) -> None:
    mixed = shuffled(world, seed)
    for member in world.members.values():
        assert canonical(plan_cluster(member, mixed, SETTINGS)) == canonical(plan_cluster(member, world, SETTINGS))


@settings(max_examples=40, deadline=None)
@given(world=strategies.worlds(), data=st.data())
def test_property_a_partial_plan_is_the_full_plan_restricted_to_its_scope(world: World, data: st.DataObject) -> None:
    domains = sorted(world.domains)
    scope = frozenset(data.draw(st.lists(st.sampled_from(domains), unique=True)) if domains else [])
    for member in world.members.values():
        full = plan_cluster(member, world, SETTINGS).scoped(scope)
        partial = plan_cluster(member, world, SETTINGS, scope).scoped(scope)
        assert canonical(partial) == canonical(full)


def test_reading_a_plans_objects_changes_nothing() -> None:
    # The planned tenant is shared (memoized); decide's copy lists the namespaces it keeps.
    a = factories.domain_spec_dict(projects=[{"name": "shared"}, {"name": "a-only"}])
    b = factories.domain_spec_dict(projects=[{"name": "shared"}, {"name": "b-only"}])
    world = factories.world(
        [factories.domain("alpha", a), factories.domain("beta", b, created="2024-05-01T00:00:00Z")],
        [bound("dev", "alpha"), bound("dev", "beta")],
        [factories.member("dev")],
    )
    planned = plan_cluster(world.members["dev"], world, SETTINGS).tenants[("beta", "dev")]
    before = (planned.workspace_object, list(planned.namespaces))
    loser = decide(plan_cluster(world.members["dev"], world, SETTINGS), {}, {}, SETTINGS).plan.tenants[("beta", "dev")]
    assert loser.objects[0].body["spec"]["namespaces"] == ["b-only"]
    assert loser.objects == loser.objects
    assert (planned.workspace_object, planned.namespaces) == before
    assert planned.objects[0].body["spec"]["namespaces"] == ["shared", "b-only"]
    assert planned.objects[0] is planned.workspace_object
