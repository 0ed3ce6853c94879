"""The platform ClusterRoles and the deployer admission policy: shape, labels and what the CEL compares.

What the policy allows and refuses is proven against a real API server in
tests/integration/deployer/; here only the manifests' shape and the rules that keep
the CEL complete (every key compared, nothing listed as forbidden) are checked.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bizdomain import names
from bizdomain.plan.roles import (
    DEPLOYER_REFUSAL,
    DEPLOYER_RULES,
    SERVER_WRITTEN_METADATA,
    deployer_admission_policy,
    desired_platform_roles,
)

MARKER = {
    "apiGroups": [names.GROUP],
    "resources": [names.DEPLOYER_MARKER_RESOURCE],
    "verbs": [names.DEPLOYER_MARKER_VERB],
}


def policy() -> dict[str, Any]:
    return next(o for o in deployer_admission_policy() if o["kind"] == "ValidatingAdmissionPolicy")


def binding() -> dict[str, Any]:
    return next(o for o in deployer_admission_policy() if o["kind"] == "ValidatingAdmissionPolicyBinding")


def all_cel() -> str:
    spec = policy()["spec"]
    parts = [c["expression"] for c in spec["matchConditions"]] + [v["expression"] for v in spec["variables"]]
    return "\n".join(parts + [v[k] for v in spec["validations"] for k in ("expression", "messageExpression")])


# --- the deployer ClusterRole ------------------------------------------------------------------


def test_only_the_deployer_role_carries_the_marker() -> None:
    roles = {r.name: r.body for r in desired_platform_roles()}
    assert MARKER in roles["bizdomain.io:deployer"]["rules"]
    for name, body in roles.items():
        if name != "bizdomain.io:deployer":
            assert "rules" not in body, f"{name} aggregates, it lists no rules of its own"
            assert names.GROUP not in str(body["aggregationRule"])


def test_the_deployer_may_not_create_delete_or_read_secrets() -> None:
    verbs = {v for rule in DEPLOYER_RULES for v in rule["verbs"]}
    resources = {r for rule in DEPLOYER_RULES for r in rule["resources"]}
    assert verbs <= {"get", "list", "watch", "patch", "update", names.DEPLOYER_MARKER_VERB}
    assert "secrets" not in resources
    assert not any("*" in rule["resources"] or "*" in rule["verbs"] for rule in DEPLOYER_RULES)


def test_the_deployer_writes_only_workloads_and_their_scale() -> None:
    written = {
        (group, resource)
        for rule in DEPLOYER_RULES
        if {"patch", "update"} & set(rule["verbs"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert written == {
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "deployments/scale"),
        ("apps", "statefulsets/scale"),
    }


# --- the admission policy ----------------------------------------------------------------------


def test_join_installs_a_policy_and_its_binding_labelled_as_its_own() -> None:
    objects = deployer_admission_policy()
    assert [(o["apiVersion"], o["kind"]) for o in objects] == [
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ]
    for obj in objects:
        assert obj["metadata"]["name"] == names.DEPLOYER_POLICY
        assert obj["metadata"]["labels"] == {
            names.LABEL_MANAGED_BY: "bizdomain-join",
            names.LABEL_COMPONENT: names.COMPONENT_IDENTITY,
        }
        assert "namespace" not in obj["metadata"]
    assert binding()["spec"] == {"policyName": names.DEPLOYER_POLICY, "validationActions": ["Deny"]}


def test_the_policy_names_are_dns_subdomains() -> None:
    """Unlike ClusterRoles, admission objects may not carry a colon in their name."""
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", names.DEPLOYER_POLICY)


def test_only_updates_of_the_workloads_themselves_are_matched() -> None:
    spec = policy()["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["matchPolicy"] == "Equivalent"
    assert spec["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": ["apps"],
            "apiVersions": ["v1"],
            "operations": ["UPDATE"],
            "resources": ["deployments", "statefulsets", "daemonsets"],
        }
    ]


def test_a_request_is_a_deployers_by_the_marker_in_its_namespace() -> None:
    conditions = {c["name"]: c["expression"] for c in policy()["spec"]["matchConditions"]}
    marker = conditions["deployer"]
    for part in (names.GROUP, names.DEPLOYER_MARKER_RESOURCE, names.DEPLOYER_MARKER_VERB, "request.namespace"):
        assert part in marker
    assert conditions["cannot-create-workloads"].startswith("!authorizer.")
    assert "check('create')" in conditions["cannot-create-workloads"]
    assert "params" not in all_cel(), "nothing to keep in sync: no parameter object"


def test_the_refusal_says_what_and_why() -> None:
    (validation,) = policy()["spec"]["validations"]
    assert validation["expression"] == "size(variables.changed) == 0"
    assert validation["reason"] == "Forbidden"
    assert DEPLOYER_REFUSAL in validation["messageExpression"]
    assert "variables.changed.join(', ')" in validation["messageExpression"]


def test_every_variable_is_defined_before_it_is_used() -> None:
    defined: set[str] = set()
    for variable in policy()["spec"]["variables"]:
        used = set(re.findall(r"variables\.(\w+)", variable["expression"]))
        assert used <= defined, f"{variable['name']} uses {used - defined} before they are defined"
        assert re.fullmatch(r"[a-z_]+", variable["name"])
        defined.add(variable["name"])
    assert "changed" in defined


@pytest.mark.parametrize(
    ("level", "allowed"),
    [
        ("object", ["metadata", "spec"]),
        ("object.metadata", [*SERVER_WRITTEN_METADATA, "annotations"]),
        ("variables.annotations", "variables.server_written_annotations"),
        ("object.spec", ["replicas", "template"]),
        ("object.spec.template", ["metadata", "spec"]),
        ("variables.pod", ["containers", "initContainers"]),
        ("c", ["image"]),
    ],
)
def test_each_level_compares_every_key_but_the_allowed_ones(level: str, allowed: list[str] | str) -> None:
    """Key by key, in both directions: a field the API gains later is refused too, not let through."""
    cel = all_cel()
    cel_list = allowed if isinstance(allowed, str) else repr(allowed)
    assert f"{level}.map(k, !(k in {cel_list}) && (!(k in " in cel
    assert f"!(k in {cel_list}) && !(k in {level})" in cel


def test_only_a_daemonset_may_see_its_template_generation_annotation_change() -> None:
    variables = {v["name"]: v["expression"] for v in policy()["spec"]["variables"]}
    assert variables["server_written_annotations"] == (
        "request.resource.resource == 'daemonsets' ? ['deprecated.daemonset.template.generation'] : []"
    )


def test_template_metadata_is_compared_whole() -> None:
    """`kubectl rollout restart` (a template annotation) is not one of the two powers."""
    cel = all_cel()
    assert "variables.template_metadata.map(k, (!(k in variables.old_template_metadata)" in cel


def test_containers_keep_their_names_in_order() -> None:
    cel = all_cel()
    for field in ("containers", "init_containers"):
        assert f"variables.{field}.map(c, c.name) != variables.old_{field}.map(c, c.name)" in cel


def test_nothing_is_listed_as_forbidden() -> None:
    """The policy names what may change, never what may not: no pod field appears in it."""
    cel = all_cel()
    for field in ("serviceAccountName", "hostPID", "hostNetwork", "volumes", "securityContext", "env", "command"):
        assert field not in cel


def test_the_manifests_are_built_afresh() -> None:
    first = deployer_admission_policy()
    first[0]["metadata"]["labels"]["x"] = "y"
    first[0]["spec"]["variables"].clear()
    assert deployer_admission_policy()[0]["metadata"]["labels"].get("x") is None
    assert deployer_admission_policy()[0]["spec"]["variables"]
    assert deployer_admission_policy()[1]["metadata"]["labels"].get("x") is None
