"""The ClusterRoles bizdomain installs on every member: the only roles it grants by default.

``admin``, ``developer`` and ``viewer`` aggregate the same rules as Kubernetes' own
admin, edit and view roles (the clusterrole-aggregation controller fills them), so they
follow every API the member serves. ``deployer`` is the pipeline's narrow role: roll
out and scale workloads, read what a rollout needs, nothing else (no Secrets).
"""

from __future__ import annotations

from typing import Any

from bizdomain import names
from bizdomain.api.crdgen import CRDS, render
from bizdomain.plan.objects import Desired, build

_AGGREGATES = {
    "admin": "rbac.authorization.k8s.io/aggregate-to-admin",
    "developer": "rbac.authorization.k8s.io/aggregate-to-edit",
    "viewer": "rbac.authorization.k8s.io/aggregate-to-view",
}

WORKLOADS = ["deployments", "statefulsets", "daemonsets"]

DEPLOYER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["apps"], "resources": [*WORKLOADS, "replicasets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": WORKLOADS, "verbs": ["patch", "update"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments/scale", "statefulsets/scale", "replicasets/scale"],
        "verbs": ["get", "patch", "update"],
    },
    {"apiGroups": ["apps"], "resources": [f"{w}/status" for w in WORKLOADS], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]


def platform_labels() -> dict[str, str]:
    return {names.LABEL_MANAGED_BY: names.MANAGED_BY_VALUE, names.LABEL_COMPONENT: names.COMPONENT_PLATFORM}


def desired_workspace_crd() -> Desired:
    """The Workspace CRD, which every member needs before it can hold a Workspace."""
    crd = next(c for c in CRDS if c.kind == names.KIND_WORKSPACE)
    body = render(crd)
    labels = {**body["metadata"]["labels"], **platform_labels()}
    return build("CustomResourceDefinition", body["metadata"]["name"], None, labels, {"spec": body["spec"]})


def desired_platform_roles() -> list[Desired]:
    """The four ClusterRoles every member holds, in a stable order."""
    roles = []
    for role, aggregate_label in _AGGREGATES.items():
        content = {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {aggregate_label: "true"}}]}}
        roles.append(build("ClusterRole", f"{names.ROLE_PREFIX}{role}", None, platform_labels(), content))
    roles.append(
        build("ClusterRole", f"{names.ROLE_PREFIX}deployer", None, platform_labels(), {"rules": DEPLOYER_RULES})
    )
    return roles


def deployer_admission_policy() -> list[dict[str, Any]]:
    """The member admission objects that hold deployers to images and replicas (installed by join).

    Interface placeholder: filled in by the deployer-hardening change (issue 11, class 5).
    """
    return []
