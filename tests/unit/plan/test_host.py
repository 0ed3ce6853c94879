"""desired_host and the host namespace trust check: each domain's namespace (made by a plain create,
never adopted), the quota capping its bindings, and the RoleBinding that lets its owners edit them."""

from __future__ import annotations

import pytest

from bizdomain.config import Settings
from bizdomain.plan import DomainRecord, World, desired_host, domain_trusted, host_namespace_state
from bizdomain.plan.host import HostNamespace, quarantine
from unit import factories
from unit.factories import SETTINGS

HOST_LABELS = {
    "app.kubernetes.io/managed-by": "bizdomain",
    "bizdomain.io/component": "host",
}


def test_each_domain_gets_its_namespace_quota_and_owner_binding_sorted_by_name() -> None:
    owners = [
        {"kind": "User", "name": "alice@example.com"},
        {"kind": "Group", "name": "payments-leads"},
        {"kind": "ServiceAccount", "name": "gitops", "namespace": "flux-system"},
    ]
    world = factories.world(
        [factories.domain("payments", factories.domain_spec_dict(owners=owners)), factories.domain("billing")]
    )

    plan = desired_host(world, SETTINGS)

    assert plan.create == []
    assert [o.key for o in plan.apply] == [
        ("Namespace", None, "domain-billing"),
        ("ResourceQuota", "domain-billing", "bizdomain-bindings"),
        ("RoleBinding", "domain-billing", "bizdomain.io:owners"),
        ("Namespace", None, "domain-payments"),
        ("ResourceQuota", "domain-payments", "bizdomain-bindings"),
        ("RoleBinding", "domain-payments", "bizdomain.io:owners"),
    ]
    assert plan.trusted == {"domain-billing": "billing", "domain-payments": "payments"}
    binding = plan.apply[5].body
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "bizdomain.io:domain-owner",
    }
    assert binding["subjects"] == [
        {"kind": "User", "name": "alice@example.com", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "Group", "name": "payments-leads", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "ServiceAccount", "name": "gitops", "namespace": "flux-system"},
    ]


@pytest.mark.parametrize("cap", [0, 1, 10, 250])
def test_the_quota_caps_bindings_at_the_platform_setting(cap: int) -> None:
    plan = desired_host(factories.world([factories.domain("payments")]), Settings(max_bindings_per_domain=cap))
    quota = next(o for o in plan.apply if o.kind == "ResourceQuota").body
    assert quota["spec"]["hard"]["count/environmentbindings.bizdomain.io"] == str(cap)
    assert Settings.from_env({"BIZDOMAIN_MAX_BINDINGS_PER_DOMAIN": str(cap)}).max_bindings_per_domain == cap


def test_the_cap_defaults_to_ten_and_is_never_negative() -> None:
    assert Settings().max_bindings_per_domain == 10
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings(max_bindings_per_domain=-1)


def test_host_objects_carry_the_host_labels_and_the_domain() -> None:
    domain = factories.domain("payments")
    for obj in desired_host(factories.world([domain]), SETTINGS).apply:
        labels = obj.body["metadata"]["labels"]
        extra = {"bizdomain.io/domain-uid": domain.uid} if obj.kind == "Namespace" else {}
        assert labels == {**HOST_LABELS, "bizdomain.io/domain": "payments", **extra}
        assert "bizdomain.io/environment" not in labels, "host objects are no tenant's footprint"


def test_a_missing_namespace_is_created_stamped_with_the_domain_uid() -> None:
    domain = factories.domain("payments")
    plan = desired_host(factories.world([domain], host_namespaces=[]), SETTINGS)
    assert [o.key for o in plan.create] == [("Namespace", None, "domain-payments")]
    assert plan.create[0].body["metadata"]["labels"]["bizdomain.io/domain-uid"] == "uid-payments"
    # What goes inside is applied only once that create succeeded: the namespace is not trusted yet.
    assert plan.trusted == {}
    assert {o.kind for o in plan.apply} == {"ResourceQuota", "RoleBinding"}
    assert host_namespace_state(domain, factories.world([domain], host_namespaces=[]), SETTINGS).state == "Missing"


def _conflicting(**fields: object) -> tuple[DomainRecord, World]:
    domain = factories.domain("payments", created="2026-01-02T00:00:00Z")
    return domain, factories.world([domain], host_namespaces=[factories.host_namespace(domain, **fields)])


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"labels": {}}, id="made-by-someone-else"),
        pytest.param({"labels": {"team": "x"}, "created": "2025-01-01T00:00:00Z"}, id="someone-elses-with-labels"),
        pytest.param(
            {"labels": {**HOST_LABELS, "bizdomain.io/domain": "billing", "bizdomain.io/domain-uid": "uid-payments"}},
            id="labelled-for-another-domain",
        ),
        pytest.param(
            {"labels": {**HOST_LABELS, "bizdomain.io/domain": "payments", "bizdomain.io/domain-uid": "uid-old"}},
            id="made-for-an-earlier-domain-of-that-name",
        ),
        pytest.param(
            {"labels": {**HOST_LABELS, "bizdomain.io/domain": "payments"}, "created": "2026-01-01T00:00:00Z"},
            id="our-labels-without-uid-but-older-than-the-domain",
        ),
    ],
)
def test_a_namespace_the_operator_did_not_make_for_this_domain_is_a_conflict(fields: dict[str, object]) -> None:
    domain, world = _conflicting(**fields)

    verdict = host_namespace_state(domain, world, SETTINGS)
    plan = desired_host(world, SETTINGS)

    assert verdict.state is HostNamespace.CONFLICT
    assert not domain_trusted(domain, world, SETTINGS)
    assert (plan.create, plan.apply, plan.trusted) == ([], [], {}), "nothing is written into it"
    assert plan.conflicts == {"payments": verdict.message}
    assert "'domain-payments' already exists and was not created by bizdomain" in verdict.message
    assert "billing" not in verdict.message, "never names another domain"


def test_a_namespace_made_before_uids_were_recorded_is_trusted_and_stamped() -> None:
    domain = factories.domain("payments", created="2026-01-02T00:00:00Z")
    legacy = factories.host_namespace(
        domain, labels={**HOST_LABELS, "bizdomain.io/domain": "payments"}, created="2026-01-02T00:00:01Z"
    )
    world = factories.world([domain], host_namespaces=[legacy])
    assert domain_trusted(domain, world, SETTINGS)
    namespace = desired_host(world, SETTINGS).apply[0]
    assert namespace.body["metadata"]["labels"]["bizdomain.io/domain-uid"] == "uid-payments"


def test_a_terminating_namespace_is_waited_for() -> None:
    domain = factories.domain("payments")
    world = factories.world([domain], host_namespaces=[factories.host_namespace(domain, deleting=True)])
    assert host_namespace_state(domain, world, SETTINGS).state is HostNamespace.TERMINATING
    plan = desired_host(world, SETTINGS)
    assert (plan.create, plan.apply, plan.conflicts) == ([], [], {})


def test_deleting_domain_has_no_host_objects_and_nothing_of_it_is_pruned() -> None:
    world = factories.world([factories.domain("payments", deleting=True), factories.domain("billing")])
    plan = desired_host(world, SETTINGS)
    assert {o.name for o in plan.apply if o.kind == "Namespace"} == {"domain-billing"}
    assert plan.trusted == {"domain-billing": "billing"}
    assert plan.domains == {"payments", "billing"}


def test_unparseable_domain_keeps_its_namespace_and_quota_but_grants_nobody() -> None:
    plan = desired_host(factories.world([factories.domain("payments", error="spec.owners: required")]), SETTINGS)
    assert [o.key for o in plan.apply] == [
        ("Namespace", None, "domain-payments"),
        ("ResourceQuota", "domain-payments", "bizdomain-bindings"),
    ]


def test_owners_in_the_configured_operator_namespace_are_never_bound() -> None:
    owners = [
        {"kind": "User", "name": "alice@example.com"},
        {"kind": "ServiceAccount", "name": "bizdomain", "namespace": "platform-ops"},
    ]
    domain = factories.domain("payments", factories.domain_spec_dict(owners=owners))
    settings = Settings(namespace="platform-ops")
    binding = next(o for o in desired_host(factories.world([domain]), settings).apply if o.kind == "RoleBinding")
    assert binding.body["subjects"] == [
        {"kind": "User", "name": "alice@example.com", "apiGroup": "rbac.authorization.k8s.io"}
    ]


def test_namespace_prefix_comes_from_settings() -> None:
    settings = Settings(domain_namespace_prefix="bd-")
    domain = factories.domain("payments")
    world = factories.world([domain], host_namespaces=[factories.host_namespace(domain, name="bd-payments")])
    assert {o.key for o in desired_host(world, settings).apply} == {
        ("Namespace", None, "bd-payments"),
        ("ResourceQuota", "bd-payments", "bizdomain-bindings"),
        ("RoleBinding", "bd-payments", "bizdomain.io:owners"),
    }


def test_no_domains_nothing_on_the_host() -> None:
    plan = desired_host(factories.world(), SETTINGS)
    assert (plan.desired, plan.trusted) == ([], {})


def test_bindings_in_an_untrusted_namespace_are_frozen_not_dropped() -> None:
    """Dropped, they would read as deleted (pruned by policy); unparsed, the planner freezes them."""
    payments, billing = factories.domain("payments"), factories.domain("billing")
    bindings = [factories.binding("dev", domain="payments"), factories.binding("dev", domain="billing")]
    namespaces = [factories.host_namespace(payments, labels={}), factories.host_namespace(billing)]
    world = factories.world([payments, billing], bindings, host_namespaces=namespaces)

    safe = quarantine(world, SETTINGS)

    frozen = safe.bindings[("domain-payments", "dev")]
    assert frozen.spec is None
    assert frozen.error == "host namespace 'domain-payments' is not the operator's: this binding is not acted on"
    assert safe.bindings[("domain-billing", "dev")] is world.bindings[("domain-billing", "dev")]
    assert quarantine(factories.world([billing], bindings[1:]), SETTINGS).bindings == {bindings[1].key: bindings[1]}


def test_bindings_of_a_namespace_being_deleted_are_still_carried_out() -> None:
    domain = factories.domain("payments")
    world = factories.world(
        [domain],
        [factories.binding("dev", domain="payments")],
        host_namespaces=[factories.host_namespace(domain, deleting=True)],
    )
    assert domain_trusted(domain, world, SETTINGS)
    assert quarantine(world, SETTINGS) is world
