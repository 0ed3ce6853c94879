"""What stays free: a deployer releases images and scales; developers, admins, the deployment
controller, and the same identity where it is not bound as a deployer, are not held at all."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from bizdomain import names
from bizdomain.plan.roles import DEPLOYER_REFUSAL
from integration.deployer.tenant import (
    DEPLOYMENT_CONTROLLER,
    DEVELOPER,
    IMAGE,
    NEW_IMAGE,
    PIPELINE,
    REFUSED,
    RELEASE_BOT,
    TENANT_ADMIN,
    WORKLOADS,
    act,
    field,
    patch,
    role_binding,
    tenant,
    workload,
)
from support import Cleanup, ClusterHandle, wait_until

pytestmark = pytest.mark.cluster


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
