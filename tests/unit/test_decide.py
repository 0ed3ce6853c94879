"""decide: ownership, protection and freeze rules, replayed as the attacks of the tenancy review.

Each test plays the worst domain owner against the pure rules, on an in-memory member
(:mod:`unit.member_sim`) that carries out each Decision the way the engine does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.decide import Apply, Prune, decide, in_sync
from bizdomain.plan import BindingRecord, DomainRecord, World, plan_cluster
from unit import factories, strategies
from unit.factories import SETTINGS
from unit.member_sim import Member, converge

DEV_PROD = ("dev", "prod")


def payments(**spec: Any) -> DomainRecord:
    return factories.domain("payments", factories.domain_spec_dict(**spec))


def bind(env: str, domain: str = "payments", created: str = factories.CREATED, **spec: Any) -> BindingRecord:
    return factories.binding(env, factories.binding_spec_dict(env, **spec), domain=domain, created=created)


def world_of(domains: list[DomainRecord], bindings: list[BindingRecord], **members: tuple[str, ...]) -> World:
    return factories.world(domains, bindings, [factories.member(n, envs) for n, envs in members.items()])


def uids(member: Member) -> dict[str, str]:
    return {name: ns["metadata"]["uid"] for name, ns in member.namespaces().items()}


def problems(world: World, member: Member, key: tuple[str, str]) -> list[str]:
    plan = plan_cluster(world.members[member.name], world, SETTINGS)
    decided = decide(plan, member.namespaces(), member.managed(), SETTINGS).plan
    return [p.reason for p in decided.tenants[key].problems]


def subjects(member: Member, namespace: str, name: str) -> list[str]:
    rb = member.objects.get(("RoleBinding", namespace, name))
    return [s["name"] for s in rb["subjects"]] if rb else []


# --- class 1: prod namespaces moved to dev and deleted --------------------------------------------


def test_a_dev_binding_on_a_shared_cluster_never_takes_or_deletes_prod_namespaces() -> None:
    shared = Member("shared")
    members = {"shared": shared}
    prod = bind("prod", created="2024-01-01T00:00:00Z", access=[{"department": "backend", "role": "viewer"}])
    world = world_of([payments()], [prod], shared=DEV_PROD)
    converge(world, members, SETTINGS)
    before = uids(shared)
    assert shared.namespaces()["payments"]["metadata"]["labels"][names.LABEL_ENVIRONMENT] == "prod"

    # The owner binds dev on the same cluster, same namespace names, Delete, backend developer.
    dev = bind("dev", access=[{"department": "backend", "role": "developer"}], deletionPolicy="Delete")
    world = world_of([payments()], [prod, dev], shared=DEV_PROD)
    converge(world, members, SETTINGS)
    assert uids(shared) == before
    assert ("RoleBinding", "payments", "bizdomain.io:department:backend:developer") not in shared.objects
    assert names.Reason.NAMESPACE_CONFLICT in problems(world, shared, ("payments", "dev"))

    # Deleting the prod binding, then the dev one, deletes nothing: prod namespaces are protected.
    for bindings in ([dev], []):
        world = world_of([payments()], bindings, shared=DEV_PROD)
        converge(world, members, SETTINGS)
        assert uids(shared) == before
        assert shared.deleted == []
    labels = shared.namespaces()["payments"]["metadata"]["labels"]
    assert labels[names.LABEL_RELEASED] == "true"
    assert labels[names.LABEL_ENVIRONMENT] == "prod", "a released namespace keeps its owner"
    assert labels[names.LABEL_PROTECTED] == "true"


def test_a_released_namespace_is_taken_back_only_by_its_own_environment() -> None:
    shared = Member("shared")
    members = {"shared": shared}
    converge(world_of([payments()], [bind("prod")], shared=DEV_PROD), members, SETTINGS)
    converge(world_of([payments()], [], shared=DEV_PROD), members, SETTINGS)  # released
    world = world_of([payments()], [bind("dev")], shared=DEV_PROD)
    converge(world, members, SETTINGS)
    assert shared.namespaces()["payments"]["metadata"]["labels"].get(names.LABEL_RELEASED) == "true"
    assert names.Reason.NAMESPACE_CONFLICT in problems(world, shared, ("payments", "dev"))
    converge(world_of([payments()], [bind("prod")], shared=DEV_PROD), members, SETTINGS)
    labels = shared.namespaces()["payments"]["metadata"]["labels"]
    assert labels.get(names.LABEL_MANAGED_BY) == "bizdomain"
    assert names.LABEL_RELEASED not in labels


def test_every_namespace_on_a_member_serving_a_protected_environment_is_protected() -> None:
    shared = Member("shared")
    world = world_of(
        [payments()],
        [bind("dev", deletionPolicy="Delete", namespaceTemplate="{project}-{environment}")],
        shared=DEV_PROD,
    )
    converge(world, {"shared": shared}, SETTINGS)
    assert shared.namespaces()["payments-dev"]["metadata"]["labels"][names.LABEL_PROTECTED] == "true"
    converge(world_of([payments()], [], shared=DEV_PROD), {"shared": shared}, SETTINGS)
    assert shared.deleted == [], "released, not deleted"


def test_protection_is_never_taken_off_a_namespace() -> None:
    # A namespace made while dev was protected stays protected after the platform changes its mind.
    dev = Member("dev")
    strict = Settings(protected_environments=("prod", "dev"))
    world = world_of([payments()], [bind("dev", deletionPolicy="Delete")], dev=("dev",))
    converge(world, {"dev": dev}, strict)
    converge(world, {"dev": dev}, SETTINGS)
    assert dev.namespaces()["payments"]["metadata"]["labels"][names.LABEL_PROTECTED] == "true"
    converge(world_of([payments()], [], dev=("dev",)), {"dev": dev}, SETTINGS)
    assert dev.deleted == []


def test_delete_policy_outside_protection_still_deletes() -> None:
    dev = Member("dev")
    converge(world_of([payments()], [bind("dev", deletionPolicy="Delete")], dev=("dev",)), {"dev": dev}, SETTINGS)
    converge(world_of([payments()], [], dev=("dev",)), {"dev": dev}, SETTINGS)
    assert [ns["metadata"]["name"] for ns in dev.deleted] == ["payments"]


# --- class 2: another domain's namespaces taken over ----------------------------------------------


def test_an_older_domain_cannot_take_a_younger_domains_namespace_by_template() -> None:
    dev = Member("dev")
    members = {"dev": dev}
    api = [{"name": "api"}]
    victim = bind("dev", "dispatch", deletionPolicy="Delete", namespaceTemplate="{domain}-{project}")
    dispatch = factories.domain("dispatch", factories.domain_spec_dict(projects=api), created="2024-06-01T00:00:00Z")
    world = world_of([payments(projects=[{"name": "dispatch-api"}]), dispatch], [victim], dev=("dev",))
    converge(world, members, SETTINGS)
    before = uids(dev)
    rbs = {k for k in dev.objects if k[0] == "RoleBinding"}

    # A literal naming the victim is refused at admission (the model says the same) ...
    with pytest.raises(ValueError, match="may only join"):
        bind("dev", "payments", namespaceTemplate="dispatch-{project}")
    # ... but names the platform chose can still meet: payments was given a project 'dispatch-api'.
    attack = bind("dev", "payments", namespaceTemplate="{project}", deletionPolicy="Delete")
    world = world_of([payments(projects=[{"name": "dispatch-api"}]), dispatch], [victim, attack], dev=("dev",))
    converge(world, members, SETTINGS)
    assert uids(dev) == before
    assert {k for k in dev.objects if k[0] == "RoleBinding"} == rbs
    ns = dev.namespaces()["dispatch-api"]["metadata"]
    assert ns["labels"][names.LABEL_DOMAIN] == "dispatch"
    assert ns["annotations"][names.ANNOTATION_DOMAIN_UID] == "uid-dispatch"
    plan = plan_cluster(world.members["dev"], world, SETTINGS)
    decided = decide(plan, dev.namespaces(), dev.managed(), SETTINGS).plan
    messages = " ".join(p.message for p in decided.tenants[("payments", "dev")].problems)
    assert "'dispatch-api'" in messages
    assert "dispatch" not in messages.replace("'dispatch-api'", ""), "never names the other tenant"


def test_objects_labelled_as_ours_in_someone_elses_namespace_are_never_pruned() -> None:
    dev = Member("dev")
    converge(world_of([payments()], [bind("dev")], dev=("dev",)), {"dev": dev}, SETTINGS)
    planted = dev.add(
        {
            "kind": "RoleBinding",
            "metadata": {"name": "bizdomain.io:department:x:admin", "namespace": "team-x", "labels": dict(_labels())},
        }
    )
    dev.add({"kind": "Namespace", "metadata": {"name": "team-x", "labels": {}}})
    converge(world_of([payments()], [bind("dev")], dev=("dev",)), {"dev": dev}, SETTINGS)
    assert dev.objects[("RoleBinding", "team-x", planted["metadata"]["name"])] is planted


def _labels() -> dict[str, str]:
    return {
        names.LABEL_MANAGED_BY: "bizdomain",
        names.LABEL_COMPONENT: "tenant",
        names.LABEL_DOMAIN: "payments",
        names.LABEL_ENVIRONMENT: "dev",
    }


def test_a_namespace_made_by_someone_else_is_a_conflict_and_untouched() -> None:
    dev = Member("dev")
    theirs = dev.add({"kind": "Namespace", "metadata": {"name": "payments", "labels": {"team": "x"}}})
    world = world_of([payments()], [bind("dev")], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    assert dev.namespaces()["payments"] is theirs
    assert names.Reason.NAMESPACE_CONFLICT in problems(world, dev, ("payments", "dev"))


def test_namespaces_are_created_with_a_plain_create() -> None:
    world = world_of([payments()], [bind("dev")], dev=("dev",))
    decision = decide(plan_cluster(world.members["dev"], world, SETTINGS), {}, {}, SETTINGS)
    creates = [a for a in decision.applies if a.create]
    assert [a.desired.key for a in creates] == [("Namespace", None, "payments")]


# --- class 3: frozen bindings keep revoked rights ------------------------------------------------


def frozen_setup() -> tuple[Member, World]:
    dev = Member("dev")
    world = world_of([payments(networkIsolation=True)], [bind("dev")], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    assert subjects(dev, "payments", "bizdomain.io:department:backend:developer") == ["payments-backend"]
    return dev, world


def test_a_frozen_binding_still_revokes_a_department_the_platform_removed() -> None:
    dev, _ = frozen_setup()
    only_sre = payments(
        networkIsolation=True, departments=[{"name": "sre", "members": [{"kind": "Group", "name": "sre"}]}]
    )
    world = world_of([only_sre], [bind("dev")], dev=("dev",))  # access still names backend: frozen
    converge(world, {"dev": dev}, SETTINGS)
    assert names.Reason.UNKNOWN_DEPARTMENT in problems(world, dev, ("payments", "dev"))
    assert ("RoleBinding", "payments", "bizdomain.io:department:backend:developer") not in dev.objects
    assert subjects(dev, "payments", "bizdomain.io:department:sre:admin") == ["sre"]


def test_a_frozen_binding_revokes_removed_members_and_hand_added_subjects_and_grants_nothing() -> None:
    dev, _ = frozen_setup()
    rb = dev.objects[("RoleBinding", "payments", "bizdomain.io:department:sre:admin")]
    rb["subjects"].append({"kind": "User", "name": "mallory"})  # a hand edit
    del dev.objects[("NetworkPolicy", "payments", names.NETWORK_POLICY_NAME)]  # a hand delete
    spec = factories.domain_spec_dict(
        networkIsolation=True,
        departments=[
            {"name": "backend", "members": [{"kind": "Group", "name": "payments-backend"}]},
            {"name": "sre", "members": [{"kind": "Group", "name": "sre-new"}]},  # sre's member replaced
        ],
    )
    frozen = bind(
        "dev",
        access=[
            {"department": "backend", "role": "admin"},  # widened while frozen
            {"department": "sre", "role": "admin"},
            {"department": "ghosts", "role": "admin"},  # what freezes it
        ],
    )
    world = world_of([factories.domain("payments", spec)], [frozen], dev=("dev",))
    for _ in range(3):
        converge(world, {"dev": dev}, SETTINGS, passes=1)
    assert ("RoleBinding", "payments", "bizdomain.io:department:backend:admin") not in dev.objects, "no new grant"
    assert subjects(dev, "payments", "bizdomain.io:department:backend:developer") == []  # no longer in access
    assert ("RoleBinding", "payments", "bizdomain.io:department:sre:admin") not in dev.objects  # sre → sre-new
    assert ("NetworkPolicy", "payments", names.NETWORK_POLICY_NAME) in dev.objects, "isolation restored"
    # and the steady state of a frozen tenant makes no write
    plan = plan_cluster(world.members["dev"], world, SETTINGS)
    decision = decide(plan, dev.namespaces(), dev.managed(), SETTINGS)
    assert decision.applies == []
    assert decision.prunes == []


def test_a_frozen_binding_narrows_a_binding_to_the_subjects_both_name() -> None:
    dev, _ = frozen_setup()
    two = factories.domain_spec_dict(
        departments=[
            {
                "name": "backend",
                "members": [{"kind": "Group", "name": "payments-backend"}, {"kind": "User", "name": "bob"}],
            },
            {"name": "sre", "members": [{"kind": "Group", "name": "sre"}]},
        ],
        networkIsolation=True,
    )
    frozen = bind("dev", access=[{"department": "backend", "role": "developer"}, {"department": "x", "role": "admin"}])
    world = world_of([factories.domain("payments", two)], [frozen], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    assert subjects(dev, "payments", "bizdomain.io:department:backend:developer") == ["payments-backend"], "bob: new"


def test_an_unparseable_binding_is_held_exactly_as_it_is() -> None:
    dev, _ = frozen_setup()
    before = {k: dict(v) for k, v in dev.objects.items()}
    world = world_of([payments(networkIsolation=True)], [factories.binding("dev", error="bad")], dev=("dev",))
    plan = plan_cluster(world.members["dev"], world, SETTINGS)
    decision = decide(plan, dev.namespaces(), dev.managed(), SETTINGS)
    assert decision.applies == []
    assert decision.prunes == []
    assert dev.objects.keys() == before.keys()


# --- class 7: a reused domain name ----------------------------------------------------------------


def test_a_domain_created_again_under_the_same_name_does_not_inherit_the_old_namespaces() -> None:
    dev = Member("dev")
    converge(world_of([payments()], [bind("dev")], dev=("dev",)), {"dev": dev}, SETTINGS)
    deleting = factories.domain("payments", deleting=True)
    converge(world_of([deleting], [], dev=("dev",)), {"dev": dev}, SETTINGS)  # deleted under Retain: released
    before = uids(dev)
    newcomer = replace(payments(), uid="uid-new-team")
    world = world_of([newcomer], [bind("dev")], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    assert uids(dev) == before
    assert dev.namespaces()["payments"]["metadata"]["labels"].get(names.LABEL_RELEASED) == "true"
    assert not [k for k in dev.objects if k[0] == "RoleBinding"], "the new team got no access to the old data"
    assert names.Reason.NAMESPACE_CONFLICT in problems(world, dev, ("payments", "dev"))


def test_objects_of_a_domain_the_host_does_not_know_are_never_pruned() -> None:
    # A host rebuilt from Git, the operator running before the domains are applied again.
    members = {"dev": Member("dev")}
    converge(world_of([payments()], [bind("dev", deletionPolicy="Delete")], dev=("dev",)), members, SETTINGS)
    before = set(members["dev"].objects)
    converge(world_of([], [], dev=("dev",)), members, SETTINGS)
    assert set(members["dev"].objects) == before
    assert members["dev"].deleted == []


def test_host_disaster_recovery_takes_everything_back_with_the_adopt_annotation() -> None:
    members = {"dev": Member("dev"), "prod": Member("prod")}
    bindings = [bind("dev", deletionPolicy="Delete"), bind("prod")]
    converge(world_of([payments()], bindings, dev=("dev",), prod=("prod",)), members, SETTINGS)
    before = {n: uids(m) for n, m in members.items()}
    objects = {n: set(m.objects) for n, m in members.items()}

    # The host is rebuilt from the same YAML: same names, new uids.
    rebuilt = replace(payments(), uid="uid-rebuilt")
    world = world_of([rebuilt], bindings, dev=("dev",), prod=("prod",))
    converge(world, members, SETTINGS)
    assert {n: uids(m) for n, m in members.items()} == before, "nothing deleted or recreated while in conflict"
    assert names.Reason.NAMESPACE_CONFLICT in problems(world, members["dev"], ("payments", "dev"))

    adopted = replace(rebuilt, adopts=("uid-payments",))
    world = world_of([adopted], bindings, dev=("dev",), prod=("prod",))
    converge(world, members, SETTINGS)
    assert {n: uids(m) for n, m in members.items()} == before
    assert {n: set(m.objects) for n, m in members.items()} == objects
    assert all(m.deleted == [] for m in members.values())
    for member in members.values():
        ns = member.namespaces()["payments"]["metadata"]
        assert ns["annotations"][names.ANNOTATION_DOMAIN_UID] == "uid-rebuilt", "re-stamped with the new uid"
        assert problems(world, member, ("payments", member.name)) == []


# --- in_sync --------------------------------------------------------------------------------------


def test_namespaces_are_judged_on_their_metadata_and_steady_state_makes_no_write() -> None:
    dev = Member("dev")
    world = world_of([payments()], [bind("dev")], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    decision = decide(plan_cluster(world.members["dev"], world, SETTINGS), dev.namespaces(), dev.managed(), SETTINGS)
    assert decision.applies == []
    assert decision.prunes == []
    fresh = decide(plan_cluster(world.members["dev"], world, SETTINGS), {}, {}, SETTINGS)
    namespace = next(a for a in fresh.applies if a.desired.kind == "Namespace")
    assert isinstance(namespace, Apply)
    assert in_sync(namespace.desired, dev.namespaces()["payments"])
    assert all(isinstance(p, Prune) for p in decision.prunes)


# --- property: any sequence of two owners' edits ---------------------------------------------------

PROPERTY_MEMBERS = {"c1": ("dev",), "c2": ("prod",), "c3": ("dev", "prod")}
COLLIDING_TEMPLATES = ["{project}", "{project}", "{domain}-{project}", "{project}-{domain}", "{project}-{environment}"]
COLLIDING_PROJECTS = st.none() | st.lists(st.sampled_from(["a", "b", "a-b", "a-a"]), unique=True, max_size=2)


@st.composite
def owner_edits(draw: st.DrawFn) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(domain, environment, binding spec or None for a delete), as the owners of a and b write them."""
    edits = []
    for _ in range(draw(st.integers(1, 6))):
        domain = draw(st.sampled_from(["a", "b"]))
        env = draw(st.sampled_from(["dev", "prod", "qa"]))
        spec = None if draw(st.integers(0, 3)) == 0 else draw(strategies.binding_specs(env, list(PROPERTY_MEMBERS)))
        if spec is not None:  # templates that collide often: collisions are what this is about
            spec["namespaceTemplate"] = draw(st.sampled_from(COLLIDING_TEMPLATES))
            if draw(st.integers(0, 3)):  # mostly pipeline deployers the platform allows
                spec["deployers"] = [{"kind": "ServiceAccount", "name": "pipeline", "namespace": "ci"}]
        edits.append((domain, env, spec))
    return edits


def granted_by(world: World, owner: tuple[str, str], rb: dict[str, Any]) -> set[tuple[str, str, str]]:
    """What the owner's own binding for that environment gives the RoleBinding's role, at most."""
    domain, env = owner
    binding = world.bindings.get((SETTINGS.domain_namespace(domain), env))
    record = world.domains[domain]
    if binding is None or binding.spec is None or record.spec is None:
        return set()
    role = rb["roleRef"]["name"]
    if rb["metadata"]["name"] == names.DEPLOYERS_BINDING:
        subjects = [s.to_rbac() for s in binding.spec.deployers]
    else:
        subjects = []
        for entry in binding.spec.access:
            department = record.spec.department(entry.department)
            if department is not None and names.role_cluster_role(entry.role) == role:
                subjects += [s.to_rbac() for s in department.members]
    return {(s["kind"], s["name"], s.get("namespace", "")) for s in subjects}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.tuples(strategies.domain_specs(), strategies.domain_specs()),
    created=st.tuples(st.sampled_from(strategies.TIMESTAMPS), st.sampled_from(strategies.TIMESTAMPS)),
    project_lists=st.tuples(COLLIDING_PROJECTS, COLLIDING_PROJECTS),
    edits=owner_edits(),
)
def test_property_no_sequence_of_owner_edits_deletes_takes_over_or_widens(
    specs: tuple[dict[str, Any], dict[str, Any]],
    created: tuple[str, str],
    project_lists: tuple[list[str] | None, list[str] | None],
    edits: list[Any],
) -> None:
    for spec, projects in zip(specs, project_lists, strict=True):
        spec.pop("projects", None)
        if projects is not None:
            spec["projects"] = [{"name": p} for p in projects]
    domains = [factories.domain(n, s, created=c) for n, s, c in zip("ab", specs, created, strict=True)]
    members = {name: Member(name) for name in PROPERTY_MEMBERS}
    records = [factories.member(n, envs, {"tier": "gold"}) for n, envs in PROPERTY_MEMBERS.items()]
    bindings: dict[tuple[str, str], BindingRecord] = {}
    owners: dict[str, tuple[str, str]] = {}  # namespace uid -> (domain uid, environment) at first sight
    protected: set[str] = set()
    for domain, env, spec in edits:
        if spec is None:
            bindings.pop((domain, env), None)
        else:
            bindings[(domain, env)] = factories.binding(env, spec, domain=domain, created=created[0])
        world = factories.world(domains, list(bindings.values()), records)
        for _ in range(2):  # every pass, not only the end state: a flip-flop is a takeover too
            converge(world, members, SETTINGS, passes=1)
            check_pass(world, members, owners, protected)


def check_pass(
    world: World, members: dict[str, Member], owners: dict[str, tuple[str, str]], protected: set[str]
) -> None:
    for member in members.values():
        assert not {ns["metadata"]["uid"] for ns in member.deleted} & protected, "a protected namespace deleted"
        for ns in member.namespaces().values():
            meta = ns["metadata"]
            owner = (meta["annotations"][names.ANNOTATION_DOMAIN_UID], meta["labels"][names.LABEL_ENVIRONMENT])
            assert owners.setdefault(meta["uid"], owner) == owner, "an existing namespace changed owner"
            if meta["labels"].get(names.LABEL_PROTECTED) == "true" or owner[1] == "prod" or member.name != "c1":
                protected.add(meta["uid"])
        for key, obj in member.objects.items():
            if key[0] != "RoleBinding":
                continue
            assert key[1] is not None, f"{key}: a RoleBinding is namespaced"
            labels = member.namespaces()[key[1]]["metadata"]["labels"]
            tenant = (labels[names.LABEL_DOMAIN], labels[names.LABEL_ENVIRONMENT])
            rb_labels = obj["metadata"]["labels"]
            assert (rb_labels[names.LABEL_DOMAIN], rb_labels[names.LABEL_ENVIRONMENT]) == tenant, f"{key}: foreign"
            held = {(s["kind"], s["name"], s.get("namespace", "")) for s in obj["subjects"]}
            assert held <= granted_by(world, tenant, obj), f"{key} grants more than {tenant}'s own binding"


def test_a_frozen_binding_corrects_a_hand_raised_quota_but_does_not_apply_its_own_new_one() -> None:
    dev = Member("dev")
    quota = {"pods": "10"}
    world = world_of([payments()], [bind("dev", quota=quota)], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    key = ("ResourceQuota", "payments", names.QUOTA_NAME)
    dev.objects[key]["spec"]["hard"]["pods"] = "555"  # a hand edit
    ghosts = {"department": "ghosts", "role": "admin"}
    frozen = bind("dev", quota=quota, access=[{"department": "backend", "role": "developer"}, ghosts])
    converge(world_of([payments()], [frozen], dev=("dev",)), {"dev": dev}, SETTINGS)
    assert dev.objects[key]["spec"]["hard"]["pods"] == "10", "drift corrected while frozen"
    raised = bind("dev", quota={"pods": "999"}, access=[ghosts])
    converge(world_of([payments()], [raised], dev=("dev",)), {"dev": dev}, SETTINGS)
    assert dev.objects[key]["spec"]["hard"]["pods"] == "10", "a frozen binding's new quota waits"


def test_an_unparseable_binding_still_loses_the_people_the_platform_removed() -> None:
    # A spec the API server stored but the operator cannot parse must not keep revoked rights.
    dev, _ = frozen_setup()
    only_sre = payments(
        networkIsolation=True, departments=[{"name": "sre", "members": [{"kind": "Group", "name": "sre-new"}]}]
    )
    world = world_of([only_sre], [factories.binding("dev", error="spec.quota: not a quantity")], dev=("dev",))
    converge(world, {"dev": dev}, SETTINGS)
    assert ("RoleBinding", "payments", "bizdomain.io:department:backend:developer") not in dev.objects
    assert ("RoleBinding", "payments", "bizdomain.io:department:sre:admin") not in dev.objects  # sre -> sre-new
    assert ("Namespace", None, "payments") in dev.objects
    assert ("NetworkPolicy", "payments", names.NETWORK_POLICY_NAME) in dev.objects, "the rest is held as it is"


# --- budgets: what restricts stays with a released namespace -------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        {"namespaceTemplate": "{project}-{environment}"},  # the owner renames its namespaces
        None,  # the owner deletes the binding (and may create it again under another template)
    ],
    ids=["template-changed", "binding-deleted"],
)
def test_a_released_namespace_keeps_its_quota_and_limits(edit: dict[str, Any] | None) -> None:
    # The attacker, a domain owner under Retain: the old namespaces are released with everything that
    # runs in them; had their ResourceQuota and LimitRange gone with the release, what runs there would
    # be unbounded (scaled by what is left behind) while the new namespaces get the whole budget again.
    dev = Member("dev")
    budget = [{"environment": "dev", "hard": {"requests.cpu": "4", "pods": "20"}}]
    domain = payments(budgets=budget, quota={"requests.cpu": "4", "pods": "20"}, limits={"max": {"cpu": "1"}})
    converge(world_of([domain], [bind("dev")], dev=("dev",)), {"dev": dev}, SETTINGS)
    quota, limits = ("ResourceQuota", "payments", names.QUOTA_NAME), ("LimitRange", "payments", names.LIMITS_NAME)
    assert quota in dev.objects
    assert limits in dev.objects
    bindings = [] if edit is None else [bind("dev", **edit)]
    converge(world_of([domain], bindings, dev=("dev",)), {"dev": dev}, SETTINGS)
    assert dev.namespaces()["payments"]["metadata"]["labels"].get(names.LABEL_RELEASED) == "true"
    assert dev.objects[quota]["spec"]["hard"] == {"pods": "20", "requests.cpu": "4"}, "the quota stays"
    assert dev.objects[limits]["spec"]["limits"][0]["max"] == {"cpu": "1"}, "the limits stay"
    # taken back later: the same objects are ours again, nothing doubled
    converge(world_of([domain], [bind("dev")], dev=("dev",)), {"dev": dev}, SETTINGS)
    assert names.LABEL_RELEASED not in dev.namespaces()["payments"]["metadata"]["labels"]
    assert dev.objects[quota]["spec"]["hard"] == {"pods": "20", "requests.cpu": "4"}


def test_a_frozen_binding_never_recreates_a_deleted_quota_or_limits_at_its_new_size() -> None:
    # The owner raises its quota past the budget and lifts its limits past the ceiling: frozen, what
    # exists stays as it is. Then the quota and the LimitRange are deleted by hand (a member admin, a
    # stolen token): re-created, they must not land at the size the freeze refused.
    dev = Member("dev")
    budget = [{"environment": "dev", "hard": {"pods": "20"}}]
    domain = payments(budgets=budget, quota={"pods": "10"}, limits={"max": {"cpu": "1"}})
    converge(world_of([domain], [bind("dev")], dev=("dev",)), {"dev": dev}, SETTINGS)
    quota, limits = ("ResourceQuota", "payments", names.QUOTA_NAME), ("LimitRange", "payments", names.LIMITS_NAME)
    greedy = world_of([domain], [bind("dev", quota={"pods": "999"}, limits={"max": {"cpu": "64"}})], dev=("dev",))
    converge(greedy, {"dev": dev}, SETTINGS)
    assert dev.objects[quota]["spec"]["hard"] == {"pods": "10"}, "frozen: kept as it is"
    assert dev.objects[limits]["spec"]["limits"][0]["max"] == {"cpu": "1"}
    del dev.objects[quota], dev.objects[limits]
    converge(greedy, {"dev": dev}, SETTINGS)
    assert dev.objects[quota]["spec"]["hard"] == {"pods": "0"}, "re-created with no room, never at 999"
    assert dev.objects[limits]["spec"]["limits"][0]["max"] == {"cpu": "1"}, "re-created under the ceiling"
    assert {names.Reason.BUDGET_EXCEEDED, names.Reason.LIMITS_EXCEEDED} <= set(
        problems(greedy, dev, ("payments", "dev"))
    )
