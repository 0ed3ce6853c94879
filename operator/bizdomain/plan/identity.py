"""The operator's identity on a member, as ``bizdomain join`` installs it (pure).

The least-privilege ClusterRole the operator needs there (no ``escalate``; ``bind`` only on the
roles it may grant, so the member's own RBAC refuses a binding to cluster-admin), a Role that lets
it mint tokens for itself only, and the admission policy that holds it to bizdomain's own objects
(:mod:`bizdomain.plan.boundary`); plus the platform objects the identity may not write itself.
"""

from __future__ import annotations

from typing import Any

from bizdomain import names
from bizdomain.plan.boundary import operator_admission_policy
from bizdomain.plan.roles import deployer_admission_policy, desired_platform_roles, desired_workspace_crd

OPERATOR_ROLE = names.OPERATOR_ROLE
SERVICE_ACCOUNT = names.OPERATOR_SERVICE_ACCOUNT
CRUD = ["get", "list", "watch", "create", "update", "patch", "delete"]
RBAC = "rbac.authorization.k8s.io"


def grantable_roles(allowed: list[str]) -> list[str]:
    """Every ClusterRole the operator may bind on a member: bizdomain's four and the allow-listed ones."""
    return sorted({f"{names.ROLE_PREFIX}{r}" for r in names.BUILTIN_ROLES} | set(allowed))


def member_rules(grantable: list[str]) -> list[dict[str, Any]]:
    """Exactly what the operator does on a member, cluster-wide (the admission policy narrows the writes)."""
    ours = [f"{names.ROLE_PREFIX}{r}" for r in names.BUILTIN_ROLES]
    return [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": CRUD},
        {"apiGroups": [""], "resources": ["resourcequotas", "limitranges"], "verbs": CRUD},
        {"apiGroups": [RBAC], "resources": ["rolebindings"], "verbs": CRUD},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": CRUD},
        {"apiGroups": [names.GROUP], "resources": [names.PLURAL_WORKSPACE], "verbs": CRUD},
        {"apiGroups": [names.GROUP], "resources": [f"{names.PLURAL_WORKSPACE}/status"], "verbs": ["get", "patch"]},
        # Listed by label (its view); no ClusterRole is secret, and none can be written.
        {"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["list", "watch"]},
        {"apiGroups": [RBAC], "resources": ["clusterroles"], "resourceNames": ours, "verbs": ["get"]},
        {
            "apiGroups": [RBAC],
            "resources": ["clusterroles"],
            "resourceNames": grantable_roles(grantable),
            "verbs": ["bind"],
        },
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "resourceNames": [f"{names.PLURAL_WORKSPACE}.{names.GROUP}"],
            "verbs": ["get"],
        },
    ]


def token_rules() -> list[dict[str, Any]]:
    """In the identity's own namespace only: mint tokens for itself (the operator renews its token)."""
    return [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts/token"],
            "resourceNames": [SERVICE_ACCOUNT],
            "verbs": ["create"],
        }
    ]


def join_object(api_version: str, kind: str, name: str, namespace: str | None = None, **content: Any) -> dict[str, Any]:
    """An object ``bizdomain join`` owns: labelled as join's, as the operator's identity."""
    labels = {names.LABEL_MANAGED_BY: names.JOIN_MANAGED_BY, names.LABEL_COMPONENT: names.COMPONENT_IDENTITY}
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **content}


def member_objects(namespace: str, grantable: list[str]) -> list[dict[str, Any]]:
    """The operator's identity on the member, with its rights and the policy that bounds them."""
    rbac = f"{RBAC}/v1"
    subjects = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}]
    return [
        join_object("v1", "Namespace", namespace),
        *operator_admission_policy(namespace, grantable_roles(grantable)),  # before the identity can act
        join_object("v1", "ServiceAccount", SERVICE_ACCOUNT, namespace),
        join_object(rbac, "ClusterRole", OPERATOR_ROLE, rules=member_rules(grantable)),
        join_object(
            rbac,
            "ClusterRoleBinding",
            OPERATOR_ROLE,
            roleRef={"apiGroup": RBAC, "kind": "ClusterRole", "name": OPERATOR_ROLE},
            subjects=subjects,
        ),
        join_object(rbac, "Role", names.OPERATOR_TOKEN_ROLE, namespace, rules=token_rules()),
        join_object(
            rbac,
            "RoleBinding",
            names.OPERATOR_TOKEN_ROLE,
            namespace,
            roleRef={"apiGroup": RBAC, "kind": "Role", "name": names.OPERATOR_TOKEN_ROLE},
            subjects=subjects,
        ),
    ]


def platform_objects() -> list[dict[str, Any]]:
    """What every member holds for bizdomain's tenants, which the operator's identity may not write."""
    return [desired_workspace_crd().body, *(r.body for r in desired_platform_roles()), *deployer_admission_policy()]
