"""The tenant a deployer-policy test acts in, and the changes a deployer may not make.

A namespace on a member holds a Deployment, a StatefulSet and a DaemonSet (no kubelet runs, so
no pod ever starts: only the API server decides) and binds a pipeline ServiceAccount and a
release user as deployers, a person as developer and one as tenant admin, the way the operator
binds them. Every request is made with `kubectl --as`, so a refusal is the member's own, with
the message a pipeline would see.
"""

from __future__ import annotations

import json
from typing import Any

from bizdomain import names
from support import Cleanup, ClusterHandle

PIPELINE = "system:serviceaccount:ci:pipeline"
RELEASE_BOT = "release-bot@example.com"
DEVELOPER = "dana@example.com"
TENANT_ADMIN = "alex@example.com"
DEPLOYMENT_CONTROLLER = "system:serviceaccount:kube-system:deployment-controller"
IMAGE = "registry.k8s.io/pause:3.10"
NEW_IMAGE = "registry.k8s.io/pause:3.11"
WORKLOADS = {"deployment": "web", "statefulset": "db", "daemonset": "agent"}
Manifest = dict[str, Any]


# --- the tenant a test acts in -------------------------------------------------------------------


def workload(kind: str, name: str, namespace: str) -> Manifest:
    labels = {"app": name}
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "initContainers": [{"name": "init", "image": IMAGE}],
            "containers": [{"name": "app", "image": IMAGE}],
        },
    }
    spec: Manifest = {"selector": {"matchLabels": labels}, "template": pod}
    if kind != "DaemonSet":
        spec["replicas"] = 1
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def role_binding(namespace: str, name: str, role: str, subjects: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def user(name: str) -> Manifest:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def tenant(cluster: ClusterHandle, cleanup: Cleanup, namespace: str) -> str:
    """A namespace with a Deployment `web`, a StatefulSet `db`, a DaemonSet `agent`, and the
    deployers, a developer and a tenant admin bound the way the operator binds them."""
    cleanup.namespace(cluster, namespace)
    pipeline = {"kind": "ServiceAccount", "name": "pipeline", "namespace": "ci"}
    items = [
        workload("Deployment", "web", namespace),
        workload("StatefulSet", "db", namespace),
        workload("DaemonSet", "agent", namespace),
        role_binding(namespace, names.DEPLOYERS_BINDING, "bizdomain.io:deployer", [pipeline, user(RELEASE_BOT)]),
        role_binding(namespace, "developers", "bizdomain.io:developer", [user(DEVELOPER)]),
        role_binding(namespace, "admins", "bizdomain.io:admin", [user(TENANT_ADMIN)]),
    ]
    cluster.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return namespace


def act(cluster: ClusterHandle, who: str | None, *args: str) -> tuple[bool, str]:
    """Run kubectl as `who` (None: the member's admin): (accepted, what it printed)."""
    result = cluster.kubectl(*args, as_user=who, check=False)
    return result.returncode == 0, result.stdout + result.stderr


def patch(cluster: ClusterHandle, who: str | None, namespace: str, kind: str, body: Manifest) -> tuple[bool, str]:
    target = f"{kind}/{WORKLOADS[kind]}"
    return act(cluster, who, "patch", target, "-n", namespace, "--type=strategic", "-p", json.dumps(body))


def field(cluster: ClusterHandle, namespace: str, kind: str, path: str) -> str:
    jsonpath = f"-o=jsonpath={{{path}}}"
    return cluster.kubectl("get", f"{kind}/{WORKLOADS[kind]}", "-n", namespace, jsonpath).stdout


# --- what a deployer may not change, each with the path its refusal names ------------------------


def pod_spec(**spec: Any) -> Manifest:
    return {"spec": {"template": {"spec": spec}}}


def container(name: str = "app", **fields: Any) -> Manifest:
    return pod_spec(**{"initContainers" if name == "init" else "containers": [{"name": name, **fields}]})


APP = "spec.template.spec.containers[app]"
REFUSED = {
    "service-account": (pod_spec(serviceAccountName="builder"), "spec.template.spec.serviceAccountName"),
    "host-path-volume": (
        pod_spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
        "spec.template.spec.volumes",
    ),
    "host-pid": (pod_spec(hostPID=True), "spec.template.spec.hostPID"),
    "host-network": (pod_spec(hostNetwork=True), "spec.template.spec.hostNetwork"),
    "pod-security-context": (pod_spec(securityContext={"runAsUser": 0}), "spec.template.spec.securityContext"),
    "node-selector": (pod_spec(nodeSelector={"kubernetes.io/hostname": "x"}), "spec.template.spec.nodeSelector"),
    # (`privileged: true` itself the local API servers refuse to everyone: no --allow-privileged.)
    "root-with-sys-admin": (
        container(securityContext={"runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}}),
        f"{APP}.securityContext",
    ),
    "env-from-secret": (
        container(env=[{"name": "T", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]),
        f"{APP}.env",
    ),
    "env-from-secret-ref": (container(envFrom=[{"secretRef": {"name": "db"}}]), f"{APP}.envFrom"),
    "command": (container(command=["sh", "-c", "cat /var/run/secrets/*"]), f"{APP}.command"),
    "args": (container(args=["--debug"]), f"{APP}.args"),
    "host-root-mounted": (
        pod_spec(
            volumes=[{"name": "root", "hostPath": {"path": "/"}}],
            containers=[{"name": "app", "volumeMounts": [{"name": "root", "mountPath": "/host"}]}],
        ),
        f"{APP}.volumeMounts",
    ),
    "init-command": (container("init", command=["sh"]), "spec.template.spec.initContainers[init].command"),
    "added-container": (
        container("sidecar", image=IMAGE),
        "spec.template.spec.containers (added, removed, renamed or reordered)",
    ),
    "image-with-env": (container(image=NEW_IMAGE, env=[{"name": "A", "value": "1"}]), f"{APP}.env"),
    "template-label": (
        {"spec": {"template": {"metadata": {"labels": {"extra": "1"}}}}},
        "spec.template.metadata.labels",
    ),
    "template-annotation": (
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}},
        "spec.template.metadata.annotations",
    ),
    "min-ready-seconds": ({"spec": {"minReadySeconds": 30}}, "spec.minReadySeconds"),
    "workload-label": ({"metadata": {"labels": {"team": "other"}}}, "metadata.labels"),
    "workload-annotation": ({"metadata": {"annotations": {"note": "x"}}}, "metadata.annotations[note]"),
    "workload-finalizer": ({"metadata": {"finalizers": ["example.com/keep"]}}, "metadata.finalizers"),
}
