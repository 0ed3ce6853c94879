"""The deployer admission policy on a real member API server: a pipeline releases and scales, nothing more.

The platform ClusterRoles and the policy `bizdomain join` installs are applied as the member's
admin to `dev`; each test makes tenant namespaces holding a Deployment, a StatefulSet and a
DaemonSet (no kubelet runs, so no pod ever starts: only the API server decides here) and binds a
pipeline ServiceAccount and a release user as deployers, a person as developer and one as tenant
admin, exactly as the operator binds them. Every request is made with `kubectl --as`, so what is
refused is refused by the member's RBAC or admission alone, with the message a pipeline would see.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from bizdomain import names
from bizdomain.plan.roles import DEPLOYER_REFUSAL, deployer_admission_policy, desired_platform_roles
from support import Cleanup, ClusterHandle, wait_until

pytestmark = pytest.mark.cluster

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


# --- the member, as `bizdomain join` and the operator leave it -----------------------------------


@pytest.fixture(scope="module")
def member(dev: ClusterHandle) -> Iterator[ClusterHandle]:
    """`dev` with the platform ClusterRoles and the deployer policy, enforced (probed, not slept on)."""
    roles = [role.body for role in desired_platform_roles()]
    dev.kubectl(
        "apply", "--server-side", "--field-manager=bizdomain", "--force-conflicts", "-f", "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": roles}),
    )  # fmt: skip
    registry = Cleanup()
    registry.add(dev, "validatingadmissionpolicy", names.DEPLOYER_POLICY)
    registry.add(dev, "validatingadmissionpolicybinding", names.DEPLOYER_POLICY)
    dev.kubectl(
        "apply", "--server-side", "--field-manager=bizdomain-join", "--force-conflicts", "-f", "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": deployer_admission_policy()}),
    )  # fmt: skip
    probe = tenant(dev, registry, f"deployer-policy-probe-{secrets.token_hex(3)}")
    wait_until(
        lambda: "yes" in act(dev, DEVELOPER, "auth", "can-i", "patch", "deployments.apps", "-n", probe)[1],
        what="the clusterrole-aggregation controller to fill bizdomain.io:developer",
    )
    restart = {"spec": {"template": {"metadata": {"annotations": {"probe": "1"}}}}}
    wait_until(
        lambda: DEPLOYER_REFUSAL in act(dev, PIPELINE, "patch", "deployment/web", "-n", probe, "--dry-run=server",
                                        "-p", json.dumps(restart))[1],
        what="the deployer policy to be enforced",
    )  # fmt: skip
    try:
        yield dev
    finally:
        registry.run()


@pytest.fixture(scope="module")
def held(member: ClusterHandle) -> Iterator[str]:
    """One tenant namespace for the refusals: a refused request changes nothing, so they can share it."""
    registry = Cleanup()
    try:
        yield tenant(member, registry, f"deployer-policy-held-{secrets.token_hex(3)}")
    finally:
        registry.run()


# --- refused: everything but images and replicas -------------------------------------------------


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


@pytest.mark.parametrize("kind", WORKLOADS)
@pytest.mark.parametrize("case", REFUSED)
def test_a_deployer_may_change_nothing_else(member: ClusterHandle, held: str, kind: str, case: str) -> None:
    body, what = REFUSED[case]
    before = field(member, held, kind, ".metadata.resourceVersion")

    accepted, output = patch(member, PIPELINE, held, kind, body)

    assert not accepted, f"{case} on a {kind} was accepted"
    assert f"{DEPLOYER_REFUSAL}; " in output
    assert what in output
    assert field(member, held, kind, ".metadata.resourceVersion") == before


@pytest.mark.parametrize(
    ("kind", "body", "what"),
    [
        ("deployment", {"spec": {"paused": True}}, "spec.paused"),
        ("deployment", {"spec": {"progressDeadlineSeconds": 60}}, "spec.progressDeadlineSeconds"),
        ("deployment", {"spec": {"revisionHistoryLimit": 1}}, "spec.revisionHistoryLimit"),
        ("statefulset", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}}}, "spec.updateStrategy"),
        ("daemonset", {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}}}, "spec.updateStrategy"),
    ],
)
def test_a_deployer_may_not_change_how_a_workload_rolls_out(
    member: ClusterHandle, held: str, kind: str, body: Manifest, what: str
) -> None:
    accepted, output = patch(member, PIPELINE, held, kind, body)

    assert not accepted
    assert f"{DEPLOYER_REFUSAL}; {what} changed" in output


@pytest.mark.parametrize(
    ("operations", "what"),
    [
        ([{"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "renamed"}], "containers"),
        ([{"op": "remove", "path": "/spec/template/spec/initContainers/0"}], "initContainers"),
        ([{"op": "remove", "path": "/spec/template/spec/initContainers"}], "initContainers"),
    ],
    ids=["renamed", "removed", "all-removed"],
)
def test_a_deployer_may_not_rename_or_remove_containers(
    member: ClusterHandle, held: str, operations: list[Manifest], what: str
) -> None:
    accepted, output = act(
        member, PIPELINE, "patch", "deployment/web", "-n", held, "--type=json", "-p", json.dumps(operations)
    )

    assert not accepted
    assert f"{DEPLOYER_REFUSAL}; spec.template.spec.{what} (added, removed, renamed or reordered) changed" in output


@pytest.mark.parametrize("kind", WORKLOADS)
def test_a_deployer_may_not_restart_a_rollout(member: ClusterHandle, held: str, kind: str) -> None:
    """`kubectl rollout restart` writes a template annotation: not one of the two powers."""
    accepted, output = act(member, RELEASE_BOT, "rollout", "restart", f"{kind}/{WORKLOADS[kind]}", "-n", held)

    assert not accepted
    assert f"{DEPLOYER_REFUSAL}; spec.template.metadata.annotations changed" in output


@pytest.mark.parametrize("kind", WORKLOADS)
def test_a_deployer_may_not_change_the_selector(member: ClusterHandle, held: str, kind: str) -> None:
    body = {
        "spec": {"selector": {"matchLabels": {"app": "other"}}, "template": {"metadata": {"labels": {"app": "other"}}}}
    }

    accepted, output = patch(member, PIPELINE, held, kind, body)

    assert not accepted
    assert "selector" in output
    assert field(member, held, kind, ".spec.selector.matchLabels.app") == WORKLOADS[kind]


def test_the_one_annotation_the_server_writes_cannot_be_abused(member: ClusterHandle, held: str) -> None:
    """A DaemonSet's template generation annotation is the API server's own: what a deployer
    sends there is overwritten, and on any other workload it is an annotation like the rest."""
    key = "deprecated.daemonset.template.generation"
    body = {"metadata": {"annotations": {key: "7"}}}
    jsonpath = ".metadata.annotations." + key.replace(".", "\\.")
    generation = field(member, held, "daemonset", jsonpath)

    accepted, output = patch(member, PIPELINE, held, "daemonset", body)
    assert accepted, output
    assert field(member, held, "daemonset", jsonpath) == generation != "7"

    accepted, output = patch(member, PIPELINE, held, "deployment", body)
    assert not accepted
    assert f"{DEPLOYER_REFUSAL}; metadata.annotations[{key}] changed" in output


def test_the_refusal_names_every_change(member: ClusterHandle, held: str) -> None:
    body = {
        "metadata": {"labels": {"team": "other"}},
        "spec": {
            "paused": True,
            "template": {"spec": {"hostPID": True, "containers": [{"name": "app", "image": NEW_IMAGE, "args": ["x"]}]}},
        },
    }

    accepted, output = patch(member, PIPELINE, held, "deployment", body)

    assert not accepted
    for what in ("metadata.labels", "spec.paused", "spec.template.spec.hostPID", f"{APP}.args"):
        assert what in output
    assert "image" not in output.split(DEPLOYER_REFUSAL)[1]


def test_a_release_user_is_held_like_the_pipeline(member: ClusterHandle, held: str) -> None:
    body, what = REFUSED["host-path-volume"]

    accepted, output = patch(member, RELEASE_BOT, held, "deployment", body)

    assert not accepted
    assert f"{DEPLOYER_REFUSAL}; {what} changed" in output


def test_a_deployer_may_not_create_delete_or_read_secrets(member: ClusterHandle, held: str) -> None:
    for args in (
        ("create", "deployment", "mine", f"--image={IMAGE}"),
        ("delete", "deployment", "web"),
        ("delete", "statefulset", "db"),
        ("create", "configmap", "mine"),
        ("get", "secrets"),
        ("create", "rolebinding", "mine", "--clusterrole=bizdomain.io:admin", f"--user={RELEASE_BOT}"),
    ):
        accepted, output = act(member, PIPELINE, *args, "-n", held)
        assert not accepted, args
        assert "forbidden" in output.lower(), output
    assert field(member, held, "deployment", ".metadata.name") == "web"


# --- allowed: images and replicas ----------------------------------------------------------------


@pytest.mark.parametrize("kind", WORKLOADS)
def test_a_deployer_sets_images(member: ClusterHandle, cleanup: Cleanup, unique_name: str, kind: str) -> None:
    ns = tenant(member, cleanup, unique_name)
    target = f"{kind}/{WORKLOADS[kind]}"

    accepted, output = act(member, PIPELINE, "set", "image", target, "-n", ns, f"app={NEW_IMAGE}", f"init={NEW_IMAGE}")

    assert accepted, output
    assert field(member, ns, kind, ".spec.template.spec.containers[0].image") == NEW_IMAGE
    assert field(member, ns, kind, ".spec.template.spec.initContainers[0].image") == NEW_IMAGE


@pytest.mark.parametrize("kind", ["deployment", "statefulset"])
def test_a_deployer_scales(member: ClusterHandle, cleanup: Cleanup, unique_name: str, kind: str) -> None:
    ns = tenant(member, cleanup, unique_name)

    scaled, output = act(member, PIPELINE, "scale", f"{kind}/{WORKLOADS[kind]}", "-n", ns, "--replicas=3")
    assert scaled, output
    assert field(member, ns, kind, ".spec.replicas") == "3"

    patched, output = patch(member, RELEASE_BOT, ns, kind, {"spec": {"replicas": 2}})
    assert patched, output
    assert field(member, ns, kind, ".spec.replicas") == "2"


def test_a_deployer_releases_by_server_side_apply(member: ClusterHandle, cleanup: Cleanup, unique_name: str) -> None:
    """A pipeline applying its own manifest server-side: only the image differs, so only it changes."""
    ns = tenant(member, cleanup, unique_name)
    manifest = workload("Deployment", "web", ns)
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE
    apply = ("apply", "--server-side", "--field-manager=pipeline", "--force-conflicts", "-f", "-")

    result = member.kubectl(*apply, as_user=PIPELINE, input=json.dumps(manifest), check=False)
    assert result.returncode == 0, result.stderr
    assert field(member, ns, "deployment", ".spec.template.spec.containers[0].image") == NEW_IMAGE
    again = member.kubectl(*apply, as_user=PIPELINE, input=json.dumps(manifest), check=False)
    assert again.returncode == 0, again.stderr

    manifest["spec"]["template"]["spec"]["hostNetwork"] = True
    widened = member.kubectl(*apply, as_user=PIPELINE, input=json.dumps(manifest), check=False)
    assert widened.returncode != 0
    assert f"{DEPLOYER_REFUSAL}; spec.template.spec.hostNetwork changed" in widened.stderr


def test_a_client_side_apply_is_refused(member: ClusterHandle, held: str) -> None:
    """Client-side `kubectl apply` rewrites the last-applied annotation, so a pipeline uses
    `kubectl apply --server-side` (or `kubectl set image`): the refusal names the annotation."""
    manifest = workload("Deployment", "web", held)
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE

    result = member.kubectl("apply", "-f", "-", as_user=PIPELINE, input=json.dumps(manifest), check=False)

    assert result.returncode != 0
    annotation = "metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]"
    assert f"{DEPLOYER_REFUSAL}; {annotation} changed" in result.stderr


# --- not held: developers, admins, controllers, and deployers elsewhere --------------------------


@pytest.fixture(scope="module")
def developers_own(member: ClusterHandle) -> Iterator[str]:
    registry = Cleanup()
    try:
        yield tenant(member, registry, f"deployer-policy-developer-{secrets.token_hex(3)}")
    finally:
        registry.run()


@pytest.mark.parametrize("case", REFUSED)
def test_a_developer_changes_what_a_deployer_may_not(member: ClusterHandle, developers_own: str, case: str) -> None:
    body, _ = REFUSED[case]

    accepted, output = patch(member, DEVELOPER, developers_own, "deployment", body)

    assert accepted, output


def test_admins_are_not_held(member: ClusterHandle, cleanup: Cleanup, unique_name: str) -> None:
    ns = tenant(member, cleanup, unique_name)

    for kind, name in WORKLOADS.items():
        accepted, output = patch(member, None, ns, kind, REFUSED["host-pid"][0])  # the member's admin
        assert accepted, output
        accepted, output = patch(member, TENANT_ADMIN, ns, kind, REFUSED["service-account"][0])
        assert accepted, output
        accepted, output = act(member, TENANT_ADMIN, "rollout", "restart", f"{kind}/{name}", "-n", ns)
        assert accepted, output
    accepted, output = act(member, TENANT_ADMIN, "create", "deployment", "mine", f"--image={IMAGE}", "-n", ns)
    assert accepted, output
    assert field(member, ns, "deployment", ".spec.template.spec.serviceAccountName") == "builder"
    assert field(member, ns, "daemonset", ".spec.template.spec.hostPID") == "true"


def test_the_deployment_controller_is_not_held(member: ClusterHandle, cleanup: Cleanup, unique_name: str) -> None:
    """The controller writes the revision annotation and the status, as it does after every release."""
    ns = tenant(member, cleanup, unique_name)
    live = json.loads(member.kubectl("get", "deployment/web", "-n", ns, "-o", "json").stdout)
    live["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "2"

    result = member.kubectl("replace", "-f", "-", as_user=DEPLOYMENT_CONTROLLER, input=json.dumps(live), check=False)
    assert result.returncode == 0, result.stderr

    live = json.loads(member.kubectl("get", "deployment/web", "-n", ns, "-o", "json").stdout)
    live["status"] = {"observedGeneration": live["metadata"]["generation"], "replicas": 0}
    status = ("replace", "--subresource=status", "-f", "-")
    result = member.kubectl(*status, as_user=DEPLOYMENT_CONTROLLER, input=json.dumps(live), check=False)
    assert result.returncode == 0, result.stderr
    assert field(member, ns, "deployment", ".metadata.annotations.deployment\\.kubernetes\\.io/revision") == "2"


def test_the_hold_follows_the_binding_not_the_identity(
    member: ClusterHandle, held: str, cleanup: Cleanup, unique_name: str
) -> None:
    """The same ServiceAccount, developer in another namespace: held where it deploys, free where it develops."""
    ns = tenant(member, cleanup, unique_name)
    pipeline = {"kind": "ServiceAccount", "name": "pipeline", "namespace": "ci"}
    member.kubectl("delete", "rolebinding", names.DEPLOYERS_BINDING, "-n", ns)
    binding = role_binding(ns, "pipeline-develops", "bizdomain.io:developer", [pipeline])
    member.kubectl("create", "-f", "-", input=json.dumps(binding))
    body, what = REFUSED["host-pid"]

    wait_until(lambda: patch(member, PIPELINE, ns, "deployment", body)[0], what="the developer binding to apply")
    refused, output = patch(member, PIPELINE, held, "deployment", body)
    assert not refused
    assert f"{DEPLOYER_REFUSAL}; {what} changed" in output
