"""The member identity's admission policy, as join renders it (every rule is tried live in
tests/e2e/test_member_boundary.py; here: what it matches and what it names)."""

from __future__ import annotations

from bizdomain.plan.boundary import operator_admission_policy
from bizdomain.plan.identity import grantable_roles, member_objects


def test_it_matches_only_the_member_identity() -> None:
    policy, binding, *_ = operator_admission_policy("ops", grantable_roles([]))
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == 'request.userInfo.username == "system:serviceaccount:ops:bizdomain-operator"'
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    resources = {r for rule in policy["spec"]["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert resources == {
        "namespaces",
        "resourcequotas",
        "limitranges",
        "rolebindings",
        "networkpolicies",
        "workspaces",
    }


def test_it_names_the_member_namespace_and_exactly_the_grantable_roles() -> None:
    policy, *_ = operator_admission_policy("ops", grantable_roles(["view"]))
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert '["default", "ops"]' in variables["reservedName"]
    assert (
        '["bizdomain.io:admin", "bizdomain.io:deployer", "bizdomain.io:developer", "bizdomain.io:viewer", "view"]'
        in variables["grantable"]
    )
    for validation in policy["spec"]["validations"]:
        assert "bizdomain's member identity" in validation["messageExpression"]


def test_join_installs_the_policy_before_the_identity() -> None:
    kinds = [o["kind"] for o in member_objects("ops", [])]
    assert kinds.index("ValidatingAdmissionPolicyBinding") < kinds.index("ServiceAccount")
