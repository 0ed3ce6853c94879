"""The pydantic models: they parse the examples, refuse what the API refuses, and merge limits."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bizdomain.api import (
    BusinessDomainSpec,
    BusinessDomainStatus,
    EnvironmentBindingSpec,
    Limits,
    MemberClusterSpec,
    Subject,
)
from bizdomain.api.common import ApiModel
from bizdomain.plan.compare import contains
from unit import factories

EXAMPLES: dict[str, type[ApiModel]] = {
    "BusinessDomain": BusinessDomainSpec,
    "EnvironmentBinding": EnvironmentBindingSpec,
    "MemberCluster": MemberClusterSpec,
}


def example_params() -> list[Any]:
    return [
        pytest.param(kind, doc, id=f"{kind}/{doc['metadata']['name']}")
        for kind in EXAMPLES
        for doc in factories.example_docs(kind)
    ]


# --- the examples ------------------------------------------------------------------------------------


def test_there_are_examples_of_every_kind() -> None:
    assert {kind for kind in EXAMPLES if factories.example_docs(kind)} == set(EXAMPLES)


@pytest.mark.parametrize(("kind", "doc"), example_params())
def test_examples_parse_and_round_trip(kind: str, doc: dict[str, Any]) -> None:
    model = EXAMPLES[kind].model_validate(doc["spec"])
    wire = model.to_wire()
    assert EXAMPLES[kind].model_validate(wire) == model
    # Everything the example says survives parsing (defaults may be added, nothing is lost).
    assert contains(doc["spec"], wire)


def test_payments_example_reads_as_written() -> None:
    (doc,) = [d for d in factories.example_docs("BusinessDomain") if d["metadata"]["name"] == "payments"]
    spec = BusinessDomainSpec.model_validate(doc["spec"])
    assert spec.display_name == "支付平台"
    assert [d.name for d in spec.departments] == ["backend", "qa", "sre"]
    assert spec.project_names("payments", "dev") == ["payments", "payments-batch"]
    assert spec.quota is not None
    assert spec.quota["requests.memory"] == "8Gi"
    assert spec.network_isolation is True
    assert spec.limits is not None
    assert spec.limits.default_request == {"cpu": "100m", "memory": "128Mi"}


def test_binding_examples_are_named_after_their_environment() -> None:
    for doc in factories.example_docs("EnvironmentBinding"):
        spec = EnvironmentBindingSpec.model_validate(doc["spec"])
        assert spec.environment == doc["metadata"]["name"]
        assert "{project}" in spec.namespace_template


# --- field names and strictness ------------------------------------------------------------------------


def test_wire_names_are_camel_case_and_python_names_work_too() -> None:
    by_alias = BusinessDomainSpec.model_validate(factories.domain_spec_dict(networkIsolation=True))
    by_name = BusinessDomainSpec.model_validate(
        {"display_name": "Payments", "owners": [{"kind": "User", "name": "a"}], "network_isolation": True}
    )
    assert by_alias.network_isolation is by_name.network_isolation is True
    assert "networkIsolation" in by_alias.to_wire()
    assert "network_isolation" not in by_alias.to_wire()


@pytest.mark.parametrize(
    ("model", "spec"),
    [
        pytest.param(BusinessDomainSpec, factories.domain_spec_dict(colour="blue"), id="domain"),
        pytest.param(EnvironmentBindingSpec, factories.binding_spec_dict(replicas=3), id="binding"),
        pytest.param(
            MemberClusterSpec,
            {"kubeconfigSecretRef": {"name": "m"}, "environments": ["dev"], "region": "eu"},
            id="member",
        ),
        pytest.param(
            BusinessDomainSpec,
            factories.domain_spec_dict(owners=[{"kind": "User", "name": "a", "email": "a@x"}]),
            id="nested-subject",
        ),
    ],
)
def test_unknown_fields_are_refused(model: Any, spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(spec)


def test_specs_are_immutable() -> None:
    spec = BusinessDomainSpec.model_validate(factories.domain_spec_dict())
    with pytest.raises(ValidationError, match="frozen"):
        spec.display_name = "other"  # type: ignore[misc]


def test_status_models_tolerate_fields_a_newer_operator_wrote() -> None:
    status = BusinessDomainStatus.model_validate({"observedGeneration": 3, "futureField": {"x": 1}})
    assert status.observed_generation == 3
    assert "futureField" not in status.to_wire()


# --- BusinessDomain ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"displayName": ""}, "at least 1 character", id="empty-display-name"),
        pytest.param({"displayName": "x" * 129}, "at most 128 characters", id="display-name-too-long"),
        pytest.param({"description": "x" * 2049}, "at most 2048 characters", id="description-too-long"),
        pytest.param({"owners": []}, "at least 1 item", id="no-owners"),
        pytest.param({"departments": [{"name": "Backend"}]}, "should match pattern", id="department-uppercase"),
        pytest.param({"departments": [{"name": "d" * 41}]}, "at most 40 characters", id="department-too-long"),
        pytest.param({"projects": [{"name": "-api"}]}, "should match pattern", id="project-leading-dash"),
        pytest.param(
            {"projects": [{"name": "api", "environments": ["Prod"]}]},
            "should match pattern",
            id="project-environment-uppercase",
        ),
        pytest.param({"deletionPolicy": "Destroy"}, "'Retain' or 'Delete'", id="deletion-policy"),
        pytest.param({"networkIsolation": "sometimes"}, "valid boolean", id="network-isolation"),
        pytest.param({"quota": {"cpu": -1}}, "negative", id="quota-negative-int"),
        pytest.param({"quota": {"cpu": "-1"}}, "not a valid Kubernetes quantity", id="quota-negative-string"),
        pytest.param({"quota": {"cpu": "4 cores"}}, "not a valid Kubernetes quantity", id="quota-malformed"),
        pytest.param({"quota": {"cpu": True}}, "not a valid Kubernetes quantity", id="quota-bool"),
        pytest.param({"quota": {"cpu": 1.5}}, "not a valid Kubernetes quantity", id="quota-float"),
        pytest.param({"quota": {"requests cpu": "1"}}, "should match pattern", id="quota-key-with-space"),
        pytest.param({"quota": {"-cpu": "1"}}, "should match pattern", id="quota-key-leading-dash"),
        pytest.param({"limits": {"max": {"memory": "lots"}}}, "not a valid Kubernetes quantity", id="limits-value"),
    ],
)
def test_domain_spec_refuses(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        BusinessDomainSpec.model_validate(factories.domain_spec_dict(**fields))


def test_domain_spec_defaults() -> None:
    spec = BusinessDomainSpec.model_validate({"displayName": "X", "owners": [{"kind": "Group", "name": "g"}]})
    assert spec.departments == []
    assert spec.projects is None
    assert spec.quota is None
    assert spec.network_isolation is False
    assert spec.deletion_policy == "Retain"


def test_quota_accepts_integers_and_keeps_them_as_strings() -> None:
    spec = BusinessDomainSpec.model_validate(factories.domain_spec_dict(quota={"pods": 20, "cpu": "1.5"}))
    assert spec.quota == {"pods": "20", "cpu": "1.5"}


@pytest.mark.parametrize(
    ("key"),
    ["cpu", "requests.memory", "count/deployments.apps", "example.com/gpu", "hugepages-2Mi", "requests.nvidia.com/gpu"],
)
def test_quota_accepts_resource_names(key: str) -> None:
    spec = BusinessDomainSpec.model_validate(factories.domain_spec_dict(quota={key: "1"}))
    assert spec.quota == {key: "1"}


def test_projects_and_departments_are_looked_up_by_name() -> None:
    spec = BusinessDomainSpec.model_validate(
        factories.domain_spec_dict(projects=[{"name": "api"}, {"name": "batch", "environments": ["prod"]}])
    )
    assert spec.project_names("payments", "dev") == ["api"]
    assert spec.project_names("payments", "prod") == ["api", "batch"]
    department = spec.department("sre")
    assert department is not None
    assert department.members[0].name == "sre"
    assert spec.department("marketing") is None


def test_no_projects_means_one_named_after_the_domain() -> None:
    spec = BusinessDomainSpec.model_validate(factories.domain_spec_dict())
    assert spec.project_names("billing", "dev") == ["billing"]


# --- Subject -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "error"),
    [
        pytest.param({"kind": "Robot", "name": "r2d2"}, "'User', 'Group' or 'ServiceAccount'", id="kind-robot"),
        pytest.param({"kind": "User", "name": ""}, "at least 1 character", id="empty-name"),
        pytest.param(
            {"kind": "ServiceAccount", "name": "ci"},
            "namespace is required for a ServiceAccount",
            id="service-account-without-namespace",
        ),
        pytest.param(
            {"kind": "User", "name": "alice", "namespace": "ci"},
            "not allowed for a User or Group",
            id="user-with-namespace",
        ),
        pytest.param(
            {"kind": "Group", "name": "devs", "namespace": "ci"},
            "not allowed for a User or Group",
            id="group-with-namespace",
        ),
        pytest.param(
            {"kind": "ServiceAccount", "name": "ci", "namespace": "CI"},
            "should match pattern",
            id="service-account-bad-namespace",
        ),
        pytest.param({"kind": "User", "name": "system:admin"}, "may not name a system: identity", id="system-user"),
        pytest.param(
            {"kind": "User", "name": "system:serviceaccount:kube-system:default"},
            "may not name a system: identity",
            id="system-serviceaccount-user",
        ),
        *[
            pytest.param({"kind": "Group", "name": group}, "may not name a system: group", id=f"group-{group}")
            for group in (
                "system:masters",
                "system:authenticated",
                "system:unauthenticated",
                "system:serviceaccounts",
                "system:nodes",
                "system:serviceaccounts:ci",
                "system:serviceaccounts:kube-system",
                "system:monitoring",
                "system:bootstrappers:kubeadm:default-node-token",
            )
        ],
        *[
            pytest.param(
                {"kind": "ServiceAccount", "name": "default", "namespace": namespace},
                "may not be in a kube-\\* namespace or the operator's namespace",
                id=f"service-account-in-{namespace}",
            )
            for namespace in ("kube-system", "kube-public", "kube-node-lease", "kube-anything", "bizdomain-system")
        ],
    ],
)
def test_subject_rules(subject: dict[str, str], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Subject.model_validate(subject)


@pytest.mark.parametrize(
    "subject",
    [
        {"kind": "User", "name": "alice@example.com"},
        {"kind": "Group", "name": "payments-backend"},
        {"kind": "Group", "name": "systems:team"},
        {"kind": "User", "name": "bob-system:x"},
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
        {"kind": "ServiceAccount", "name": "kube-deployer", "namespace": "kubeflow"},
        {"kind": "ServiceAccount", "name": "deploy.bot-2", "namespace": "ci"},
        {"kind": "User", "name": "Zoë Müller (支付)"},
    ],
    ids=lambda s: f"{s['kind']}-{s['name']}",
)
def test_subjects_that_are_fine(subject: dict[str, str]) -> None:
    assert Subject.model_validate(subject).to_wire() == subject


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ({"kind": "User", "name": "alice\n! DANGER"}, "control characters"),
        ({"kind": "Group", "name": "ops\x1b[2K"}, "control characters"),
        ({"kind": "User", "name": "tab\there"}, "control characters"),
        ({"kind": "ServiceAccount", "name": "system:x", "namespace": "ci"}, "DNS subdomain"),
        ({"kind": "ServiceAccount", "name": "CI", "namespace": "ci"}, "DNS subdomain"),
    ],
)
def test_names_a_review_could_misread_are_refused(subject: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Subject.model_validate(subject)


def test_a_bad_subject_anywhere_refuses_the_whole_spec() -> None:
    members = [{"kind": "Group", "name": "system:authenticated"}]
    with pytest.raises(ValidationError, match=r"departments\.0\.members\.0"):
        BusinessDomainSpec.model_validate(factories.domain_spec_dict(departments=[{"name": "all", "members": members}]))
    with pytest.raises(ValidationError, match=r"deployers\.0"):
        EnvironmentBindingSpec.model_validate(
            factories.binding_spec_dict(deployers=[{"kind": "ServiceAccount", "name": "ci"}])
        )


@pytest.mark.parametrize(
    ("subject", "rbac"),
    [
        ({"kind": "User", "name": "a"}, {"kind": "User", "name": "a", "apiGroup": "rbac.authorization.k8s.io"}),
        ({"kind": "Group", "name": "g"}, {"kind": "Group", "name": "g", "apiGroup": "rbac.authorization.k8s.io"}),
        (
            {"kind": "ServiceAccount", "name": "s", "namespace": "n"},
            {"kind": "ServiceAccount", "name": "s", "namespace": "n"},
        ),
    ],
    ids=["user", "group", "service-account"],
)
def test_subject_to_rbac(subject: dict[str, str], rbac: dict[str, str]) -> None:
    assert Subject.model_validate(subject).to_rbac() == rbac


# --- EnvironmentBinding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"environment": "Prod"}, "should match pattern", id="environment-uppercase"),
        pytest.param({"environment": "e" * 21}, "at most 20 characters", id="environment-too-long"),
        pytest.param({"access": [{"department": "sre", "role": "Admin"}]}, "should match pattern", id="role-uppercase"),
        pytest.param({"access": [{"department": "sre"}]}, "Field required", id="role-missing"),
        pytest.param({"namespaceTemplate": "{foo}"}, "should match pattern", id="template-unknown-placeholder"),
        pytest.param({"namespaceTemplate": "Team-{project}"}, "should match pattern", id="template-uppercase"),
        pytest.param({"namespaceTemplate": "x" * 55 + "{project}"}, "at most 63 characters", id="template-too-long"),
        pytest.param({"deletionPolicy": "Destroy"}, "'Retain' or 'Delete'", id="deletion-policy"),
        pytest.param({"clusters": {"names": ["Prod"]}}, "should match pattern", id="cluster-name-uppercase"),
        pytest.param(
            {"clusters": {"selector": {"matchExpressions": [{"key": "a", "operator": "Maybe"}]}}},
            "'In', 'NotIn', 'Exists' or 'DoesNotExist'",
            id="selector-operator",
        ),
        pytest.param({"quota": {"pods": "-5"}}, "not a valid Kubernetes quantity", id="quota-negative"),
    ],
)
def test_binding_spec_refuses(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        EnvironmentBindingSpec.model_validate(factories.binding_spec_dict(**fields))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{project}", "api"),
        ("{domain}-{project}", "payments-api"),
        ("{project}-{environment}", "api-dev"),
        ("{environment}-{domain}-{project}", "dev-payments-api"),
        ("{project}{project}", "apiapi"),
    ],
)
def test_namespace_for(template: str, expected: str) -> None:
    spec = EnvironmentBindingSpec.model_validate(factories.binding_spec_dict(namespaceTemplate=template))
    assert spec.namespace_for("payments", "api") == expected


def test_binding_spec_defaults() -> None:
    spec = EnvironmentBindingSpec.model_validate({"environment": "dev"})
    assert spec.namespace_template == "{project}"
    assert spec.clusters is None
    assert spec.access == []
    assert spec.deployers == []
    assert spec.deletion_policy is None


def test_selector_parses_from_the_wire() -> None:
    spec = EnvironmentBindingSpec.model_validate(
        factories.binding_spec_dict(
            clusters={
                "selector": {
                    "matchLabels": {"tier": "gold"},
                    "matchExpressions": [{"key": "region", "operator": "In", "values": ["eu"]}],
                }
            }
        )
    )
    assert spec.clusters is not None
    assert spec.clusters.selector is not None
    assert spec.clusters.selector.matches({"tier": "gold", "region": "eu"})
    assert not spec.clusters.selector.matches({"tier": "gold", "region": "us"})


# --- MemberCluster -------------------------------------------------------------------------------------


def test_member_spec_defaults_the_secret_key() -> None:
    spec = MemberClusterSpec.model_validate({"kubeconfigSecretRef": {"name": "member-dev"}, "environments": ["dev"]})
    assert spec.kubeconfig_secret_ref.key == "kubeconfig"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        pytest.param(
            {"kubeconfigSecretRef": {"name": "m"}, "environments": []}, "at least 1 item", id="no-environments"
        ),
        pytest.param({"environments": ["dev"]}, "Field required", id="no-secret"),
        pytest.param(
            {"kubeconfigSecretRef": {"name": "M_1"}, "environments": ["dev"]}, "should match pattern", id="secret-name"
        ),
        pytest.param(
            {"kubeconfigSecretRef": {"name": "m", "key": "a b"}, "environments": ["dev"]},
            "should match pattern",
            id="secret-key",
        ),
    ],
)
def test_member_spec_refuses(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        MemberClusterSpec.model_validate(spec)


# --- Limits.merged -------------------------------------------------------------------------------------


def limits(**fields: Any) -> Limits:
    return Limits.model_validate(fields)


def test_merged_lays_the_override_over_key_by_key() -> None:
    base = limits(default={"cpu": "500m", "memory": "512Mi"}, defaultRequest={"cpu": "100m"})
    override = limits(default={"cpu": "1"}, max={"memory": "4Gi"})
    assert base.merged(override) == limits(
        default={"cpu": "1", "memory": "512Mi"}, defaultRequest={"cpu": "100m"}, max={"memory": "4Gi"}
    )


def test_merged_with_nothing_is_itself() -> None:
    base = limits(default={"cpu": "1"})
    assert base.merged(None) is base
    assert base.merged(Limits()) == base


def test_merged_onto_nothing_is_the_override() -> None:
    override = limits(min={"cpu": "10m"})
    assert Limits().merged(override) == override


def test_merged_empty_maps_stay_unset() -> None:
    merged = Limits().merged(Limits())
    assert merged == Limits()
    assert merged.to_wire() == {}


def test_merged_does_not_change_either_side() -> None:
    base, override = limits(default={"cpu": "1"}), limits(default={"cpu": "2"})
    base.merged(override)
    assert base.default == {"cpu": "1"}
    assert override.default == {"cpu": "2"}
