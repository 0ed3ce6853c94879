"""desired_tenant: one domain in one environment, the exact objects it wants, and what freezes it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bizdomain import names
from bizdomain.api import BusinessDomainSpec, EnvironmentBindingSpec
from bizdomain.config import Settings
from bizdomain.plan import Desired, TenantPlan, desired_tenant, tenant_labels
from unit import factories, strategies
from unit.factories import SETTINGS

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def full_domain(**fields: Any) -> dict[str, Any]:
    """The payments domain of examples/, trimmed: two projects, quota, limits, isolation."""
    return factories.domain_spec_dict(
        **{
            "projects": [{"name": "payments"}, {"name": "payments-batch"}],
            "quota": {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "50"},
            "limits": {"default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m"}},
            "networkIsolation": True,
            **fields,
        }
    )


def full_binding(environment: str = "dev", **fields: Any) -> dict[str, Any]:
    return factories.binding_spec_dict(
        environment,
        **{
            "deployers": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}],
            "quota": {"requests.cpu": "2", "pods": "20"},
            **fields,
        },
    )


def plan_for(
    domain_spec: dict[str, Any] | None = None,
    binding_spec: dict[str, Any] | None = None,
    settings: Settings = SETTINGS,
    *,
    domain: str = "payments",
    environment: str = "dev",
) -> TenantPlan:
    record = factories.domain(domain, domain_spec)
    bound = factories.binding(environment, binding_spec, domain=domain)
    return desired_tenant(record, bound, settings)


def by_key(plan: TenantPlan) -> dict[tuple[str, str | None, str], Desired]:
    return {o.key: o for o in plan.objects}


def reasons(plan: TenantPlan) -> list[str]:
    return [p.reason for p in plan.problems]


# --- the whole footprint ---------------------------------------------------------------------------


def test_full_domain_plans_exactly_these_objects() -> None:
    plan = plan_for(full_domain(), full_binding())

    per_namespace = [
        ("Namespace", None, "{ns}"),
        ("RoleBinding", "{ns}", "bizdomain.io:department:backend:developer"),
        ("RoleBinding", "{ns}", "bizdomain.io:department:sre:admin"),
        ("RoleBinding", "{ns}", "bizdomain.io:deployers"),
        ("ResourceQuota", "{ns}", "bizdomain-quota"),
        ("LimitRange", "{ns}", "bizdomain-limits"),
        ("NetworkPolicy", "{ns}", "bizdomain-isolation"),
    ]
    expected = {("Workspace", None, "payments.dev")} | {
        (kind, ns and ns.format(ns=n), name.format(ns=n))
        for n in ("payments", "payments-batch")
        for kind, ns, name in per_namespace
    }
    assert set(by_key(plan)) == expected
    assert len(plan.objects) == len(expected)
    assert plan.objects[0].kind == "Workspace", "the Workspace is applied first"
    assert plan.namespaces == ["payments", "payments-batch"]
    assert plan.problems == []
    assert not plan.frozen


def test_every_object_carries_the_tenant_labels() -> None:
    plan = plan_for(full_domain(), full_binding())
    want = {
        "app.kubernetes.io/managed-by": "bizdomain",
        "bizdomain.io/domain": "payments",
        "bizdomain.io/environment": "dev",
    }
    for obj in plan.objects:
        labels = obj.body["metadata"]["labels"]
        assert want.items() <= labels.items(), obj.key
        assert labels == {**tenant_labels("payments", "dev"), **labels}, obj.key


def test_objects_are_full_manifests_with_their_identity() -> None:
    for obj in plan_for(full_domain(), full_binding()).objects:
        meta = obj.body["metadata"]
        assert obj.body["kind"] == obj.kind
        assert meta["name"] == obj.name
        assert meta.get("namespace") == obj.namespace
        assert obj.body["apiVersion"]
        assert meta["annotations"]["bizdomain.io/spec-hash"]


def test_namespaces_carry_project_policy_and_display_name() -> None:
    plan = plan_for(full_domain(displayName="支付平台"), full_binding())
    ns = by_key(plan)[("Namespace", None, "payments-batch")].body["metadata"]
    assert ns["labels"]["bizdomain.io/project"] == "payments-batch"
    assert ns["annotations"]["bizdomain.io/deletion-policy"] == "Retain"
    assert ns["annotations"]["bizdomain.io/display-name"] == "支付平台"


def test_workspace_lists_the_namespaces_and_the_domain() -> None:
    plan = plan_for(full_domain(description="Card acquiring"), full_binding())
    workspace = by_key(plan)[("Workspace", None, "payments.dev")].body
    assert workspace["apiVersion"] == "bizdomain.io/v1alpha1"
    assert workspace["spec"] == {
        "domain": "payments",
        "displayName": "Payments",
        "description": "Card acquiring",
        "environment": "dev",
        "owners": [{"kind": "User", "name": "alice@example.com"}],
        "namespaces": ["payments", "payments-batch"],
        "deletionPolicy": "Retain",
    }


# --- RBAC --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "developer", "viewer", "deployer"])
def test_builtin_roles_bind_to_bizdomain_cluster_roles(role: str) -> None:
    plan = plan_for(binding_spec=factories.binding_spec_dict(access=[{"department": "sre", "role": role}]))
    rb = by_key(plan)[("RoleBinding", "payments", f"bizdomain.io:department:sre:{role}")].body
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": f"bizdomain.io:{role}",
    }
    assert rb["subjects"] == [{"kind": "Group", "name": "sre", "apiGroup": "rbac.authorization.k8s.io"}]


def test_allow_listed_cluster_role_is_bound_by_its_own_name() -> None:
    settings = Settings(allowed_cluster_roles=("monitoring-reader",))
    access = [{"department": "sre", "role": "monitoring-reader"}]
    plan = plan_for(binding_spec=factories.binding_spec_dict(access=access), settings=settings)
    rb = by_key(plan)[("RoleBinding", "payments", "bizdomain.io:department:sre:monitoring-reader")].body
    assert rb["roleRef"]["name"] == "monitoring-reader"
    assert not plan.frozen


def test_department_members_become_subjects_in_order() -> None:
    departments = [
        {
            "name": "sre",
            "members": [
                {"kind": "Group", "name": "sre"},
                {"kind": "User", "name": "oncall@example.com"},
                {"kind": "ServiceAccount", "name": "bot", "namespace": "tools"},
            ],
        }
    ]
    plan = plan_for(
        factories.domain_spec_dict(departments=departments),
        factories.binding_spec_dict(access=[{"department": "sre", "role": "admin"}]),
    )
    rb = by_key(plan)[("RoleBinding", "payments", "bizdomain.io:department:sre:admin")].body
    assert rb["subjects"] == [
        {"kind": "Group", "name": "sre", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "User", "name": "oncall@example.com", "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "ServiceAccount", "name": "bot", "namespace": "tools"},
    ]


def test_department_without_members_gets_no_role_binding() -> None:
    departments = [{"name": "backend", "members": []}, {"name": "sre", "members": [{"kind": "Group", "name": "sre"}]}]
    plan = plan_for(factories.domain_spec_dict(departments=departments), factories.binding_spec_dict())
    bindings = {o.name for o in plan.objects if o.kind == "RoleBinding"}
    assert bindings == {"bizdomain.io:department:sre:admin"}
    assert not plan.frozen


def test_deployers_are_bound_to_the_deployer_role() -> None:
    plan = plan_for(binding_spec=full_binding())
    rb = by_key(plan)[("RoleBinding", "payments", "bizdomain.io:deployers")].body
    assert rb["roleRef"]["name"] == "bizdomain.io:deployer"
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]


def test_no_deployers_no_deployers_binding() -> None:
    plan = plan_for(binding_spec=factories.binding_spec_dict())
    assert ("RoleBinding", "payments", "bizdomain.io:deployers") not in by_key(plan)


def test_no_access_entries_no_department_bindings() -> None:
    plan = plan_for(binding_spec=factories.binding_spec_dict(access=[]))
    assert [o.kind for o in plan.objects] == ["Workspace", "Namespace"]


# --- quota, limits, isolation ------------------------------------------------------------------------


def test_quota_is_the_domain_quota_overlaid_key_by_key_by_the_binding() -> None:
    plan = plan_for(full_domain(), full_binding(quota={"requests.cpu": "2", "limits.cpu": "3"}))
    quota = by_key(plan)[("ResourceQuota", "payments", "bizdomain-quota")].body
    assert quota["spec"] == {"hard": {"limits.cpu": "3", "pods": "50", "requests.cpu": "2", "requests.memory": "8Gi"}}


def test_binding_quota_alone_makes_a_quota() -> None:
    plan = plan_for(factories.domain_spec_dict(), factories.binding_spec_dict(quota={"pods": "5"}))
    assert by_key(plan)[("ResourceQuota", "payments", "bizdomain-quota")].body["spec"] == {"hard": {"pods": "5"}}


def test_no_quota_anywhere_no_resource_quota() -> None:
    plan = plan_for(factories.domain_spec_dict(), factories.binding_spec_dict())
    assert not [o for o in plan.objects if o.kind == "ResourceQuota"]


def test_limit_range_is_the_merge_of_domain_and_binding_limits() -> None:
    binding = full_binding(limits={"default": {"cpu": "1"}, "max": {"memory": "4Gi"}})
    plan = plan_for(full_domain(), binding)
    limits = by_key(plan)[("LimitRange", "payments", "bizdomain-limits")].body
    assert limits["spec"] == {
        "limits": [
            {
                "type": "Container",
                "default": {"cpu": "1", "memory": "512Mi"},
                "defaultRequest": {"cpu": "100m"},
                "max": {"memory": "4Gi"},
            }
        ]
    }


def test_no_limits_anywhere_no_limit_range() -> None:
    plan = plan_for(factories.domain_spec_dict(), factories.binding_spec_dict())
    assert not [o for o in plan.objects if o.kind == "LimitRange"]


@pytest.mark.parametrize("isolated", [True, False])
def test_network_policy_only_with_network_isolation(isolated: bool) -> None:
    plan = plan_for(factories.domain_spec_dict(networkIsolation=isolated), factories.binding_spec_dict())
    policies = [o for o in plan.objects if o.kind == "NetworkPolicy"]
    if not isolated:
        assert policies == []
        return
    assert [p.key for p in policies] == [("NetworkPolicy", "payments", "bizdomain-isolation")]
    spec = policies[0].body["spec"]
    assert spec["podSelector"] == {}
    assert spec["policyTypes"] == ["Ingress"]
    peers = {"bizdomain.io/domain": "payments", "bizdomain.io/environment": "dev"}
    assert spec["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": peers}}]}]


# --- projects and namespace names ---------------------------------------------------------------------


def test_default_is_one_project_named_after_the_domain() -> None:
    plan = plan_for(factories.domain_spec_dict(), factories.binding_spec_dict(), domain="billing")
    assert plan.namespaces == ["billing"]
    assert by_key(plan)[("Namespace", None, "billing")].body["metadata"]["labels"]["bizdomain.io/project"] == "billing"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("dev", ["api", "sandbox"]), ("prod", ["api", "reports"]), ("qa", ["api"])],
)
def test_projects_restricted_to_some_environments(environment: str, expected: list[str]) -> None:
    projects = [
        {"name": "api"},
        {"name": "sandbox", "environments": ["dev"]},
        {"name": "reports", "environments": ["prod"]},
    ]
    plan = plan_for(
        factories.domain_spec_dict(projects=projects),
        factories.binding_spec_dict(environment),
        environment=environment,
    )
    assert plan.namespaces == expected
    assert sorted(o.name for o in plan.objects if o.kind == "Namespace") == sorted(expected)


def test_empty_project_list_plans_only_the_workspace() -> None:
    plan = plan_for(factories.domain_spec_dict(projects=[]), factories.binding_spec_dict())
    assert plan.namespaces == []
    assert [o.kind for o in plan.objects] == ["Workspace"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{project}", "api"),
        ("{domain}-{project}", "payments-api"),
        ("{project}-{environment}", "api-dev"),
        ("{domain}-{project}-{environment}", "payments-api-dev"),
    ],
)
def test_namespace_template(template: str, expected: str) -> None:
    plan = plan_for(
        factories.domain_spec_dict(projects=[{"name": "api"}]),
        factories.binding_spec_dict(namespaceTemplate=template),
    )
    assert plan.namespaces == [expected]
    assert ("Namespace", None, expected) in by_key(plan)
    assert all(o.namespace in (None, expected) for o in plan.objects)


@pytest.mark.parametrize(
    ("project", "settings"),
    [
        pytest.param("bizdomain-system", SETTINGS, id="operator-namespace"),
        pytest.param("ops", Settings(namespace="ops"), id="configured-operator-namespace"),
        pytest.param("vault", Settings(protected_namespaces=("vault",)), id="configured-list"),
    ],
)
def test_protected_namespaces_are_dropped_with_a_problem(project: str, settings: Settings) -> None:
    projects = [{"name": "api"}, {"name": project}]
    plan = plan_for(factories.domain_spec_dict(projects=projects), factories.binding_spec_dict(), settings)
    assert plan.namespaces == ["api"]
    assert all(project not in (o.name, o.namespace) for o in plan.objects)
    assert reasons(plan) == [names.Reason.NAMESPACE_PROTECTED]
    assert project in plan.problems[0].message
    assert not plan.frozen, "the other projects still converge"


@pytest.mark.parametrize("project", ["kube-system", "kube-anything", "default"])
def test_projects_named_like_platform_namespaces_are_refused_by_the_model(project: str) -> None:
    with pytest.raises(ValueError, match="may not be named default or start with kube-"):
        BusinessDomainSpec.model_validate(factories.domain_spec_dict(projects=[{"name": project}]))


@pytest.mark.parametrize(
    "template", ["de{project}", "kube-{project}", "team-{project}", "{project}op", "x{domain}-{project}"]
)
def test_templates_with_literal_text_are_refused_by_the_model(template: str) -> None:
    # A literal could spell another domain's namespace (or default, kube-*): only placeholders and '-'.
    with pytest.raises(ValueError, match="may only join"):
        factories.binding("dev", factories.binding_spec_dict(namespaceTemplate=template))


@pytest.mark.parametrize("settings", [SETTINGS, Settings(protected_namespaces=("vault",))])
def test_template_that_spells_a_protected_namespace_is_dropped(settings: Settings) -> None:
    plan = plan_for(
        factories.domain_spec_dict(projects=[{"name": "system"}]),
        factories.binding_spec_dict(namespaceTemplate="{domain}-{project}"),
        settings,
        domain="kube",
    )
    assert plan.namespaces == []
    assert reasons(plan) == [names.Reason.NAMESPACE_PROTECTED]


# --- what freezes a tenant ---------------------------------------------------------------------------


def assert_frozen(plan: TenantPlan, reason: str, *fragments: str) -> None:
    assert plan.frozen
    # Frozen fails safe: planned from the binding's valid part only (decide then grants nothing new).
    granted = {s["name"] for o in plan.objects if o.kind == "RoleBinding" for s in o.body["subjects"]}
    assert "ghosts" not in " ".join(o.name for o in plan.objects)
    assert not granted & {"mallory", "system:anonymous"}
    assert reason in reasons(plan)
    message = " ".join(p.message for p in plan.problems if p.reason == reason)
    for fragment in fragments:
        assert fragment in message


def test_unknown_department_freezes_the_tenant() -> None:
    access = [{"department": "backend", "role": "developer"}, {"department": "marketing", "role": "viewer"}]
    plan = plan_for(full_domain(), factories.binding_spec_dict(access=access))
    assert_frozen(plan, names.Reason.UNKNOWN_DEPARTMENT, "'marketing'", "backend, sre")


@pytest.mark.parametrize("role", ["cluster-admin", "system:aggregate-to-admin"])
def test_cluster_admin_and_system_roles_are_refused_by_the_model(role: str) -> None:
    with pytest.raises(ValueError, match="can never be granted"):
        EnvironmentBindingSpec.model_validate(factories.binding_spec_dict(access=[{"department": "sre", "role": role}]))


@pytest.mark.parametrize("role", ["monitoring-reader", "edit"])
def test_role_not_allow_listed_freezes_the_tenant(role: str) -> None:
    plan = plan_for(full_domain(), factories.binding_spec_dict(access=[{"department": "sre", "role": role}]))
    assert_frozen(plan, names.Reason.ROLE_NOT_ALLOWED, repr(role))


def test_cluster_admin_can_never_be_allow_listed() -> None:
    with pytest.raises(ValueError, match="cluster-admin"):
        Settings(allowed_cluster_roles=("cluster-admin",))


def test_overlong_namespace_freezes_the_tenant() -> None:
    domain = "d" * 40
    plan = plan_for(
        factories.domain_spec_dict(projects=[{"name": "p" * 20}]),
        factories.binding_spec_dict("staging", namespaceTemplate="{domain}-{project}-{environment}"),
        domain=domain,
        environment="staging",
    )
    assert_frozen(plan, names.Reason.INVALID_SPEC, "longer than 63")


def test_namespace_of_exactly_63_characters_is_fine() -> None:
    plan = plan_for(
        factories.domain_spec_dict(projects=[{"name": "p"}, {"name": "p" * 40}]),
        factories.binding_spec_dict("d" * 6, namespaceTemplate="{domain}-{project}-{environment}-{environment}"),
        environment="d" * 6,
    )
    assert not plan.frozen
    assert max(len(n) for n in plan.namespaces) == 63


@pytest.mark.parametrize("template", ["-{project}", "{project}-", "{project}-{environment}-"])
def test_template_that_makes_no_dns_label_freezes_the_tenant(template: str) -> None:
    plan = plan_for(factories.domain_spec_dict(), factories.binding_spec_dict(namespaceTemplate=template))
    assert_frozen(plan, names.Reason.INVALID_SPEC, "DNS label")


def test_frozen_plan_still_names_its_tenant_and_generations() -> None:
    record = factories.domain(generation=4)
    bound = factories.binding(
        "dev", factories.binding_spec_dict(access=[{"department": "nope", "role": "admin"}]), generation=7
    )
    plan = desired_tenant(record, bound, SETTINGS)
    assert plan.frozen
    assert plan.key == ("payments", "dev")
    assert plan.binding == ("domain-payments", "dev")
    assert plan.generations == (4, 7)


# --- deletion policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain_policy", "binding_policy", "expected"),
    [
        ("Retain", None, "Retain"),
        ("Delete", None, "Delete"),
        ("Retain", "Delete", "Delete"),
        ("Delete", "Retain", "Retain"),
    ],
)
def test_deletion_policy_is_the_bindings_else_the_domains(
    domain_policy: str, binding_policy: str | None, expected: str
) -> None:
    extra = {"deletionPolicy": binding_policy} if binding_policy else {}
    plan = plan_for(factories.domain_spec_dict(deletionPolicy=domain_policy), factories.binding_spec_dict(**extra))
    assert plan.deletion_policy == expected
    assert plan.problems == []
    ns = by_key(plan)[("Namespace", None, "payments")].body
    assert ns["metadata"]["annotations"]["bizdomain.io/deletion-policy"] == expected
    assert by_key(plan)[("Workspace", None, "payments.dev")].body["spec"]["deletionPolicy"] == expected


@pytest.mark.parametrize("where", ["domain", "binding"])
def test_delete_in_a_protected_environment_is_retained_with_a_problem(where: str) -> None:
    domain_spec = factories.domain_spec_dict(deletionPolicy="Delete" if where == "domain" else "Retain")
    binding_spec = factories.binding_spec_dict("prod", **({"deletionPolicy": "Delete"} if where == "binding" else {}))
    plan = plan_for(domain_spec, binding_spec, environment="prod")
    assert plan.deletion_policy == "Retain"
    assert reasons(plan) == [names.Reason.DELETION_BLOCKED]
    assert "'prod'" in plan.problems[0].message
    assert not plan.frozen, "a blocked deletion is a warning: the tenant still converges"
    ns = by_key(plan)[("Namespace", None, "payments")].body
    assert ns["metadata"]["annotations"]["bizdomain.io/deletion-policy"] == "Retain"


def test_protected_environments_come_from_settings() -> None:
    settings = Settings(protected_environments=("staging",))
    domain_spec = factories.domain_spec_dict(deletionPolicy="Delete")
    prod = plan_for(domain_spec, factories.binding_spec_dict("prod"), settings, environment="prod")
    staging = plan_for(domain_spec, factories.binding_spec_dict("staging"), settings, environment="staging")
    assert (prod.deletion_policy, prod.problems) == ("Delete", [])
    assert staging.deletion_policy == "Retain"
    assert reasons(staging) == [names.Reason.DELETION_BLOCKED]


# --- purity ------------------------------------------------------------------------------------------


def test_same_records_give_the_same_plan() -> None:
    first = plan_for(full_domain(), full_binding())
    second = plan_for(full_domain(), full_binding())
    assert first == second
    assert [o.body for o in first.objects] == [o.body for o in second.objects]


def test_plan_records_the_generations_it_was_made_from() -> None:
    plan = desired_tenant(factories.domain(generation=3), factories.binding(generation=9), SETTINGS)
    assert plan.generations == (3, 9)


# --- properties --------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    domain_spec=strategies.domain_specs(),
    environment=st.sampled_from(strategies.ENVIRONMENTS),
    data=st.data(),
)
def test_property_every_object_is_labelled_and_every_namespace_is_a_dns_label(
    domain_spec: dict[str, Any], environment: str, data: st.DataObject
) -> None:
    binding_spec = data.draw(strategies.binding_specs(environment, ["c1"]))
    plan = desired_tenant(
        factories.domain("a1", domain_spec), factories.binding(environment, binding_spec, domain="a1"), SETTINGS
    )
    labels = tenant_labels("a1", environment)
    for obj in plan.objects:
        assert labels.items() <= obj.body["metadata"]["labels"].items()
    namespaces = [o.name for o in plan.objects if o.kind == "Namespace"]
    assert sorted(namespaces) == sorted(plan.namespaces)
    for namespace in plan.namespaces:
        assert len(namespace) <= 63
        assert DNS_LABEL.match(namespace), namespace
    keys = [o.key for o in plan.objects]
    assert len(keys) == len(set(keys))
    if plan.frozen:
        assert plan.problems


def test_a_configured_operator_namespace_is_never_granted_and_freezes_the_binding() -> None:
    settings = Settings(namespace="platform-ops", deployer_namespaces=("ci", "platform-ops"))
    spec = factories.binding_spec_dict(
        deployers=[{"kind": "ServiceAccount", "name": "op", "namespace": "platform-ops"}]
    )
    plan = desired_tenant(factories.domain(), factories.binding("dev", spec), settings)
    assert plan.frozen
    assert names.Reason.SUBJECT_NOT_ALLOWED in reasons(plan)
    assert names.DEPLOYERS_BINDING not in plan.grants
