"""The admission policy that holds the operator's member identity to what bizdomain makes.

RBAC cannot say "only namespaces labelled managed-by=bizdomain" nor "only RoleBindings to these
roles", so ``bizdomain join`` installs this ValidatingAdmissionPolicy (and its binding) on every
member. It matches only requests from the identity join creates
(``system:serviceaccount:<member-namespace>:bizdomain-operator``); everyone else is untouched.
With the member token alone, an attacker can then write nothing outside the namespaces bizdomain
manages, never touch kube-*, default or the identity's own namespace, never delete a namespace
or drop its ``bizdomain.io/protected`` label, make a namespace without a tenant's labels or with a
Pod Security level below baseline, write an object labelled for another tenant than its namespace's,
write a RoleBinding not named ``bizdomain.io:*``, mint itself a token longer than 48 hours, and bind
only bizdomain's roles and the allow-listed ones. Called by :mod:`bizdomain.cli` (join); pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bizdomain import names
from bizdomain.plan.roles import ADMISSION_API_VERSION

ADMISSION = ADMISSION_API_VERSION
NAMESPACED_KINDS = (
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("networking.k8s.io", "networkpolicies"),
)
WHO = "bizdomain's member identity"
# The longest token the identity may mint for itself (renewal asks for the lifetime join gave it).
MAX_TOKEN_SECONDS = 48 * 3600
POD_SECURITY_LEVELS = ("baseline", "restricted")


def _label(obj: str, label: str) -> str:
    """CEL: the value of ``label`` on ``obj`` ('' when absent)."""
    return f"{obj}.metadata.?labels[?{json.dumps(label)}].orValue('')"


def _variables(member_namespace: str, grantable: list[str]) -> list[dict[str, str]]:
    managed = names.MANAGED_BY_VALUE
    reserved = json.dumps(["default", member_namespace])
    roles = json.dumps(sorted(grantable))
    ns = "namespaceObject"
    exprs = {
        "isNamespace": "request.resource.group == '' && request.resource.resource == 'namespaces'",
        "newManaged": f"request.operation != 'DELETE' && {_label('object', names.LABEL_MANAGED_BY)} == '{managed}'",
        "oldManaged": f"request.operation != 'CREATE' && {_label('oldObject', names.LABEL_MANAGED_BY)} == '{managed}'",
        "newReleased": f"request.operation != 'DELETE' && {_label('object', names.LABEL_RELEASED)} == 'true'",
        "oldReleased": f"request.operation != 'CREATE' && {_label('oldObject', names.LABEL_RELEASED)} == 'true'",
        "newProtected": f"request.operation != 'DELETE' && {_label('object', names.LABEL_PROTECTED)} == 'true'",
        "oldProtected": f"request.operation != 'CREATE' && {_label('oldObject', names.LABEL_PROTECTED)} == 'true'",
        "reservedName": f"request.name.startsWith('kube-') || request.name in {reserved}",
        "tenantLabels": (
            f"request.operation != 'DELETE' && {_label('object', names.LABEL_COMPONENT)} == "
            f"'{names.COMPONENT_TENANT}' && {_label('object', names.LABEL_DOMAIN)} != '' && "
            f"{_label('object', names.LABEL_ENVIRONMENT)} != ''"
        ),
        "sameTenant": (
            f"{ns} != null && {_label('object', names.LABEL_DOMAIN)} == {_label(ns, names.LABEL_DOMAIN)} && "
            f"{_label('object', names.LABEL_ENVIRONMENT)} == {_label(ns, names.LABEL_ENVIRONMENT)}"
        ),
        "podSecurity": (
            f"request.operation != 'DELETE' && {_label('object', names.LABEL_POD_SECURITY_ENFORCE)} in "
            f"{json.dumps(list(POD_SECURITY_LEVELS))}"
        ),
        "nsManaged": f"{ns} != null && {_label(ns, names.LABEL_MANAGED_BY)} == '{managed}'",
        "nsReleased": f"{ns} != null && {_label(ns, names.LABEL_RELEASED)} == 'true'",
        "grantable": (
            f"request.operation == 'DELETE' || request.resource.resource != 'rolebindings' || "
            f"(object.roleRef.kind == 'ClusterRole' && object.roleRef.name in {roles})"
        ),
    }
    return [{"name": name, "expression": expression} for name, expression in exprs.items()]


def _validations(member_namespace: str, grantable: list[str]) -> list[dict[str, str]]:
    v = "variables."
    managed = f"{names.LABEL_MANAGED_BY}={names.MANAGED_BY_VALUE}"
    released = f"{names.LABEL_RELEASED}=true"
    on_namespace = " + request.name"
    where = "(has(request.namespace) && request.namespace != '' ? request.namespace + '/' : '')"
    on_object = f" + request.resource.resource + ' ' + {where} + request.name"
    rules = [
        (
            f"!{v}isNamespace || !{v}reservedName",
            _say(f"may never create, change or delete kube-*, default or {member_namespace}: refused on namespace ")
            + on_namespace,
        ),
        (
            f"!{v}isNamespace || request.operation != 'CREATE' || {v}newManaged",
            _say(f"may only create namespaces labelled {managed}: refused on namespace ") + on_namespace,
        ),
        (
            f"!{v}isNamespace || request.operation != 'UPDATE' || "
            f"(({v}oldManaged || {v}oldReleased) && ({v}newManaged || {v}newReleased))",
            _say(
                f"may only change namespaces labelled {managed} or {released}, and must leave them so: refused on "
                "namespace "
            )
            + on_namespace,
        ),
        (
            f"!{v}isNamespace || request.operation != 'DELETE' || {v}oldManaged",
            _say(f"may only delete namespaces labelled {managed}: refused on namespace ") + on_namespace,
        ),
        (
            f"!{v}isNamespace || !{v}oldProtected || (request.operation == 'UPDATE' && {v}newProtected)",
            "'namespace ' + request.name + "
            + _say(f"is labelled {names.LABEL_PROTECTED}=true: ", "may never delete it or remove that label"),
        ),
        (
            f"{v}isNamespace || request.resource.resource == '{names.PLURAL_WORKSPACE}' || {v}nsManaged "
            f"|| (request.operation == 'DELETE' && {v}nsReleased)",
            _say(f"may only write in namespaces labelled {managed}: refused on ") + on_object,
        ),
        (
            f"{v}isNamespace || request.operation == 'DELETE' || {v}newManaged",
            _say(f"may only create or change objects labelled {managed}: refused on ") + on_object,
        ),
        (
            f"{v}isNamespace || request.operation == 'CREATE' || {v}oldManaged",
            _say(f"may only change or delete objects labelled {managed}: refused on ") + on_object,
        ),
        (
            f"!{v}isNamespace || !{v}newManaged || ({v}tenantLabels && {v}podSecurity)",
            _say(
                "may only make namespaces that carry a tenant's labels (component, domain, environment) and a Pod "
                f"Security level of {' or '.join(POD_SECURITY_LEVELS)}: refused on namespace "
            )
            + on_namespace,
        ),
        (
            f"{v}isNamespace || request.resource.resource == '{names.PLURAL_WORKSPACE}' || "
            f"request.operation == 'DELETE' || ({v}tenantLabels && {v}sameTenant)",
            _say("may only write objects labelled for the tenant of their namespace: refused on ") + on_object,
        ),
        (
            f"request.resource.resource != 'rolebindings' || request.operation == 'DELETE' || "
            f"request.name.startsWith('{names.ROLE_PREFIX}')",
            _say(f"may only write RoleBindings named {names.ROLE_PREFIX}*: refused on ") + on_object,
        ),
        (
            f"{v}grantable",
            _say(f"may only bind the ClusterRoles {', '.join(sorted(grantable))}: refused on ") + on_object,
        ),
    ]
    # The static message is what the API server shows should a message expression ever fail.
    return [
        {"expression": expression, "messageExpression": message, "message": _static(message)}
        for expression, message in rules
    ]


def _static(message: str) -> str:
    """The literal parts of a message expression, without the request's names."""
    text = " ".join(json.loads(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', message)).strip()
    text = re.sub(r": refused on( namespace)?$", "", text)
    return f"the namespace {text}" if text.startswith("is labelled") else text


def _say(what: str, then: str | None = None) -> str:
    """A CEL string literal: "<who> <what>", or "<what><who> <then>" (double-quoted: who has an apostrophe)."""
    text = f" {what}{WHO} {then}" if then is not None else f"{WHO} {what}"
    return json.dumps(text)


def operator_identity(member_namespace: str) -> str:
    return f"system:serviceaccount:{member_namespace}:{names.OPERATOR_SERVICE_ACCOUNT}"


def operator_admission_policy(member_namespace: str, grantable: list[str]) -> list[dict[str, Any]]:
    """The policy and its binding: every write of the member identity must stay inside bizdomain's objects.

    ``grantable``: every ClusterRole the identity may bind (bizdomain's four and the allow-listed ones).
    """
    ops = ["CREATE", "UPDATE", "DELETE"]
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["namespaces"], "operations": ops}]
    rules += [
        {"apiGroups": [g], "apiVersions": ["*"], "resources": [r], "operations": ops} for g, r in NAMESPACED_KINDS
    ]
    rules.append(
        {"apiGroups": [names.GROUP], "apiVersions": ["*"], "resources": [names.PLURAL_WORKSPACE], "operations": ops}
    )
    labels = {names.LABEL_MANAGED_BY: names.JOIN_MANAGED_BY, names.LABEL_COMPONENT: names.COMPONENT_IDENTITY}
    policy = {
        "apiVersion": ADMISSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": names.OPERATOR_POLICY, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": rules},
            "matchConditions": [
                {
                    "name": "bizdomain-member-identity",
                    "expression": f"request.userInfo.username == {json.dumps(operator_identity(member_namespace))}",
                }
            ],
            "variables": _variables(member_namespace, grantable),
            "validations": _validations(member_namespace, grantable),
        },
    }
    return [policy, _binding(names.OPERATOR_POLICY, labels), *_token_policy(member_namespace, labels)]


def _binding(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": ADMISSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }


def _token_policy(member_namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Tokens the identity mints for itself (renewal) live at most MAX_TOKEN_SECONDS: a leaked token
    cannot buy itself years. A policy of its own: its object is a TokenRequest, typed apart."""
    name = f"{names.OPERATOR_POLICY}-tokens"
    message = _say(f"may only mint tokens that live at most {MAX_TOKEN_SECONDS // 3600} hours")
    policy = {
        "apiVersion": ADMISSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["serviceaccounts/token"],
                        "operations": ["CREATE"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "bizdomain-member-identity",
                    "expression": f"request.userInfo.username == {json.dumps(operator_identity(member_namespace))}",
                }
            ],
            "validations": [
                {
                    "expression": f"!has(object.spec.expirationSeconds) || "
                    f"object.spec.expirationSeconds <= {MAX_TOKEN_SECONDS}",
                    "message": json.loads(message),
                }
            ],
        },
    }
    return [policy, _binding(name, labels)]
