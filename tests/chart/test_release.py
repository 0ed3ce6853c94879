"""The chart against the host API server: every object accepted (server-side dry-run), and a
release installed, upgraded with a changed value, uninstalled and installed again. There are no
nodes, so no pod ever runs; what is tested is that the API server accepts every object.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support import Cleanup, ClusterHandle

from .conftest import CHART, Release, helm

pytestmark = pytest.mark.cluster

# What a release with the defaults holds.
# The ClusterRoles: the operator's, domain-owner, sandbox-creator; the policies: budgets, sandboxes and
# the operator's own identity.
KINDS = sorted([
    "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "Deployment", "PodDisruptionBudget", "Role",
    "RoleBinding", "Service", "ServiceAccount", *["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"] * 4,
])  # fmt: skip


def manifest(release: Release) -> str:
    return release.helm("get", "manifest", release.name, "--namespace", release.namespace).stdout


def test_every_rendered_object_passes_a_server_side_dry_run(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str
) -> None:
    """A second release, never installed: its objects are all new to the server."""
    namespace = cleanup.namespace(host, unique_name)
    text = helm("template", unique_name, str(CHART), "--namespace", namespace).stdout
    kinds = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("kind:")]
    result = host.kubectl("apply", "--dry-run=server", "-f", "-", input=text)
    accepted = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert sorted(kinds) == KINDS
    assert len(accepted) == len(KINDS), result.stdout
    assert not host.kubectl("get", "clusterrole", f"{unique_name}-bizdomain", "--ignore-not-found").stdout


def test_install_created_every_object(chart_release: Release) -> None:
    status = chart_release.helm("status", chart_release.name, "--namespace", chart_release.namespace).stdout
    assert "STATUS: deployed" in status
    live = chart_release.host.kubectl("get", "-f", "-", "-o", "name", input=manifest(chart_release)).stdout.split()
    assert len(live) == len(KINDS)
    for crd in ("businessdomains", "environmentbindings", "memberclusters", "workspaces"):  # the chart's crds/
        chart_release.host.kubectl("get", "crd", f"{crd}.bizdomain.io")


def test_upgrade_changes_a_value(chart_release: Release) -> None:
    def deployment() -> dict[str, Any]:
        obj = chart_release.get("deployment", chart_release.fullname)
        assert obj is not None
        return obj

    def resync(obj: dict[str, Any]) -> str:
        env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
        return str(next(e["value"] for e in env if e["name"] == "BIZDOMAIN_RESYNC_SECONDS"))

    assert resync(deployment()) == "60"
    upgrade = ("upgrade", chart_release.name, str(CHART), "--namespace", chart_release.namespace, "--reuse-values")
    chart_release.helm(*upgrade, "--set", "resyncSeconds=30", "--set", "replicaCount=3")
    try:
        changed = deployment()
        assert resync(changed) == "30"
        assert changed["spec"]["replicas"] == 3
        history = json.loads(
            chart_release.helm("history", chart_release.name, "-n", chart_release.namespace, "-o", "json").stdout
        )
        assert [h["status"] for h in history][-2:] == ["superseded", "deployed"]
    finally:
        chart_release.helm(*upgrade, "--set", "resyncSeconds=60", "--set", "replicaCount=2")
    assert resync(deployment()) == "60"


def test_uninstall_removes_the_release_but_not_the_crds(chart_release: Release) -> None:
    objects = manifest(chart_release)
    chart_release.uninstall()
    try:
        left = chart_release.host.kubectl("get", "-f", "-", "--ignore-not-found", "-o", "name", input=objects)
        assert left.stdout.split() == []
        chart_release.host.kubectl("get", "crd", "businessdomains.bizdomain.io")  # domains outlive the operator
    finally:
        chart_release.install()  # for the tests after this one
    assert "STATUS: deployed" in chart_release.helm("status", chart_release.name, "-n", chart_release.namespace).stdout
