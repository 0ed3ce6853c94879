"""The ClusterRoles bizdomain installs on every member: the only roles it grants by default.

``admin``, ``developer`` and ``viewer`` aggregate the same rules as Kubernetes' own
admin, edit and view roles (the clusterrole-aggregation controller fills them), so they
follow every API the member serves. ``deployer`` is the pipeline's narrow role: publish a
new image and change the replica count, read what a rollout needs, nothing else (no
Secrets, no create or delete). RBAC cannot say "only the image" of a patch, so
:func:`deployer_admission_policy` builds the member admission policy (installed by
``bizdomain join``) that refuses every other change a deployer makes to a workload.
"""

from __future__ import annotations

import copy
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
# What the API server writes into a workload's metadata on every update: a deployer's update changes them.
SERVER_WRITTEN_METADATA = ("generation", "managedFields", "resourceVersion")
# The API server sets this one on a DaemonSet from its template generation, whatever the client sends.
DAEMONSET_ANNOTATIONS = ("deprecated.daemonset.template.generation",)

DEPLOYER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["apps"], "resources": [*WORKLOADS, "replicasets"], "verbs": ["get", "list", "watch"]},
    # Images (kubectl set image, apply): the admission policy refuses every other change.
    {"apiGroups": ["apps"], "resources": WORKLOADS, "verbs": ["patch", "update"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments/scale", "statefulsets/scale"],
        "verbs": ["get", "patch", "update"],
    },
    {"apiGroups": ["apps"], "resources": [f"{w}/status" for w in WORKLOADS], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    # The marker the admission policy asks the authorizer for: no API serves this resource.
    {
        "apiGroups": [names.GROUP],
        "resources": [names.DEPLOYER_MARKER_RESOURCE],
        "verbs": [names.DEPLOYER_MARKER_VERB],
    },
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


# --- the deployer admission policy's CEL -------------------------------------------------------

ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
DEPLOYER_REFUSAL = "bizdomain deployers may change only container images and replicas"

_DEPLOYER_MARKER = (
    f"authorizer.group('{names.GROUP}').resource('{names.DEPLOYER_MARKER_RESOURCE}')"
    f".namespace(request.namespace).check('{names.DEPLOYER_MARKER_VERB}').allowed()"
)
_CANNOT_CREATE = (
    "!authorizer.group('apps').resource(request.resource.resource)"
    ".namespace(request.namespace).check('create').allowed()"
)


def _changed(new: str, old: str, path: str, allowed: tuple[str, ...] | str = ()) -> str:
    """CEL for the paths (``path``, a CEL string of key ``k``) of the keys of map ``new`` that
    differ from ``old``, or that only one side has, except ``allowed`` (keys, or a CEL list of
    them). Every key is compared, none is listed as bad: a field the API gains later is refused."""
    cel_list = allowed if isinstance(allowed, str) else repr(list(allowed))
    keep = f"!(k in {cel_list}) && " if cel_list != "[]" else ""
    return (
        f"{new}.map(k, {keep}(!(k in {old}) || {new}[k] != {old}[k]), {path})"
        f" + {old}.map(k, {keep}!(k in {new}), {path})"
    )


# The pod spec's container lists, by the name of the variable that holds each.
_CONTAINER_LISTS = {"containers": "containers", "initContainers": "init_containers"}


def _container_changes(field: str) -> str:
    """CEL for what changed in one list of containers besides their images, one string per
    changed container; the names must stay the same, in order (none added, removed or renamed)."""
    new, old = f"variables.{_CONTAINER_LISTS[field]}", f"variables.old_{_CONTAINER_LISTS[field]}"
    path = f"spec.template.spec.{field}"
    per_container = _changed("c", "o", f"'{path}[' + c.name + '].' + k", ("image",))
    return (
        f"{new}.map(c, c.name) != {old}.map(c, c.name) ? ['{path} (added, removed, renamed or reordered)'] : "
        f"{new}.map(c, {old}.filter(o, o.name == c.name).map(o, ({per_container}).join(', '))[0])"
        ".filter(s, s != '')"
    )


def _or_empty(field: str, empty: str) -> str:
    return f"has({field}) ? {field} : {empty}"


_VARIABLES: list[dict[str, str]] = [
    {"name": "pod", "expression": "object.spec.template.spec"},
    {"name": "old_pod", "expression": "oldObject.spec.template.spec"},
    {
        "name": "server_written_annotations",
        "expression": f"request.resource.resource == 'daemonsets' ? {list(DAEMONSET_ANNOTATIONS)!r} : []",
    },
    {"name": "annotations", "expression": _or_empty("object.metadata.annotations", "{}")},
    {"name": "old_annotations", "expression": _or_empty("oldObject.metadata.annotations", "{}")},
    {"name": "template_metadata", "expression": _or_empty("object.spec.template.metadata", "{}")},
    {"name": "old_template_metadata", "expression": _or_empty("oldObject.spec.template.metadata", "{}")},
    *(
        {"name": f"{side}{variable}", "expression": _or_empty(f"variables.{side}pod.{field}", "[]")}
        for field, variable in _CONTAINER_LISTS.items()
        for side in ("", "old_")
    ),
    {
        "name": "changed_workload",
        "expression": " + ".join(
            [
                _changed("object", "oldObject", "k", ("metadata", "spec")),
                _changed(
                    "object.metadata",
                    "oldObject.metadata",
                    "'metadata.' + k",
                    (*SERVER_WRITTEN_METADATA, "annotations"),
                ),
                _changed(
                    "variables.annotations",
                    "variables.old_annotations",
                    "'metadata.annotations[' + k + ']'",
                    "variables.server_written_annotations",
                ),
                _changed("object.spec", "oldObject.spec", "'spec.' + k", ("replicas", "template")),
            ]
        ),
    },
    {
        "name": "changed_template",
        "expression": " + ".join(
            [
                _changed(
                    "object.spec.template", "oldObject.spec.template", "'spec.template.' + k", ("metadata", "spec")
                ),
                _changed(
                    "variables.template_metadata", "variables.old_template_metadata", "'spec.template.metadata.' + k"
                ),
                _changed("variables.pod", "variables.old_pod", "'spec.template.spec.' + k", tuple(_CONTAINER_LISTS)),
            ]
        ),
    },
    *({"name": f"changed_{v}", "expression": _container_changes(f)} for f, v in _CONTAINER_LISTS.items()),
    {
        "name": "changed",
        "expression": " + ".join(
            f"variables.changed_{part}" for part in ("workload", "template", *_CONTAINER_LISTS.values())
        ),
    },
]


def deployer_admission_policy() -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy and its binding that hold deployers to images and replicas.

    ``bizdomain join`` applies both on each member, as they are. A request is a deployer's when
    the authorizer grants its user the deployer marker in the request's namespace and not the
    creation of that kind of workload there (so admins, developers and controllers are never
    held: whoever may create a workload could create any pod template anyway). For such an
    UPDATE of a Deployment, StatefulSet or DaemonSet, every key of the object is compared with
    the stored one at every level down to each container, except ``spec.replicas``, the
    containers' and init containers' ``image`` and what the API server itself writes
    (``metadata.managedFields``, ``resourceVersion``, ``generation``, a DaemonSet's template
    generation annotation): a field the API gains later is refused too. The scale subresource
    is not matched, so ``kubectl scale`` stays free.
    """
    labels = {names.LABEL_MANAGED_BY: names.JOIN_MANAGED_BY, names.LABEL_COMPONENT: names.COMPONENT_IDENTITY}
    policy = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": names.DEPLOYER_POLICY, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "matchPolicy": "Equivalent",  # the same workloads through any other version
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": list(WORKLOADS),
                    }
                ],
            },
            "matchConditions": [
                {"name": "deployer", "expression": _DEPLOYER_MARKER},
                {"name": "cannot-create-workloads", "expression": _CANNOT_CREATE},
            ],
            "variables": copy.deepcopy(_VARIABLES),
            "validations": [
                {
                    "expression": "size(variables.changed) == 0",
                    "messageExpression": f"'{DEPLOYER_REFUSAL}; ' + variables.changed.join(', ') + ' changed'",
                    "reason": "Forbidden",
                }
            ],
        },
    }
    binding = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": names.DEPLOYER_POLICY, "labels": dict(labels)},
        "spec": {"policyName": names.DEPLOYER_POLICY, "validationActions": ["Deny"]},
    }
    return [policy, binding]
