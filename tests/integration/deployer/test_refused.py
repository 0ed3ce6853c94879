"""A deployer's changes to a workload other than its images and replicas, refused by the member's
API server with a message that says what changed and why; creating and deleting, refused by RBAC."""

from __future__ import annotations

import json

import pytest

from bizdomain.plan.roles import DEPLOYER_REFUSAL
from integration.deployer.tenant import (
    APP,
    IMAGE,
    NEW_IMAGE,
    PIPELINE,
    REFUSED,
    RELEASE_BOT,
    WORKLOADS,
    Manifest,
    act,
    field,
    patch,
    workload,
)
from support import ClusterHandle

pytestmark = pytest.mark.cluster


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


def test_a_client_side_apply_is_refused(member: ClusterHandle, held: str) -> None:
    """Client-side `kubectl apply` rewrites the last-applied annotation, so a pipeline uses
    `kubectl apply --server-side` (or `kubectl set image`): the refusal names the annotation."""
    manifest = workload("Deployment", "web", held)
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE

    result = member.kubectl("apply", "-f", "-", as_user=PIPELINE, input=json.dumps(manifest), check=False)

    assert result.returncode != 0
    annotation = "metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]"
    assert f"{DEPLOYER_REFUSAL}; {annotation} changed" in result.stderr
