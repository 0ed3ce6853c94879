"""desired_host: each domain's host namespace and the RoleBinding that lets its owners edit bindings."""

from __future__ import annotations

from bizdomain.config import Settings
from bizdomain.plan import desired_host
from unit import factories
from unit.factories import SETTINGS

HOST_LABELS = {
    "app.kubernetes.io/managed-by": "bizdomain",
    "bizdomain.io/component": "host",
}


def test_each_domain_gets_its_namespace_and_owner_binding_sorted_by_name() -> None:
    owners = [
        {"kind": "User", "name": "alice@example.com"},
        {"kind": "Group", "name": "payments-leads"},
        {"kind": "ServiceAccount", "name": "gitops", "namespace": "flux-system"},
    ]
    world = factories.world(
        [factories.domain("payments", factories.domain_spec_dict(owners=owners)), factories.domain("billing")]
    )

    objects = desired_host(world, SETTINGS)

    assert [o.key for o in objects] == [
        ("Namespace", None, "domain-billing"),
        ("RoleBinding", "domain-billing", "bizdomain.io:owners"),
        ("Namespace", None, "domain-payments"),
        ("RoleBinding", "domain-payments", "bizdomain.io:owners"),
    ]
    binding = objects[3].body
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


def test_host_objects_carry_the_host_labels_and_the_domain() -> None:
    for obj in desired_host(factories.world([factories.domain("payments")]), SETTINGS):
        labels = obj.body["metadata"]["labels"]
        assert labels == {**HOST_LABELS, "bizdomain.io/domain": "payments"}
        assert "bizdomain.io/environment" not in labels, "host objects are no tenant's footprint"


def test_deleting_domain_has_no_host_objects() -> None:
    world = factories.world([factories.domain("payments", deleting=True), factories.domain("billing")])
    assert {o.name for o in desired_host(world, SETTINGS) if o.kind == "Namespace"} == {"domain-billing"}


def test_unparseable_domain_keeps_its_namespace_but_grants_nobody() -> None:
    objects = desired_host(factories.world([factories.domain("payments", error="spec.owners: required")]), SETTINGS)
    assert [o.key for o in objects] == [("Namespace", None, "domain-payments")]


def test_namespace_prefix_comes_from_settings() -> None:
    settings = Settings(domain_namespace_prefix="bd-")
    objects = desired_host(factories.world([factories.domain("payments")]), settings)
    assert {o.key for o in objects} == {
        ("Namespace", None, "bd-payments"),
        ("RoleBinding", "bd-payments", "bizdomain.io:owners"),
    }


def test_no_domains_nothing_on_the_host() -> None:
    assert desired_host(factories.world(), SETTINGS) == []
