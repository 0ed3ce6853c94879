"""A stolen host operator token, replayed with the chart's RBAC and admission policies: the
ServiceAccount may patch bizdomain's objects for its finalizer, and the chart's
`<release>-operator-identity` policy refuses everything else it could do with that right."""

from __future__ import annotations

import json
import secrets
import subprocess
from typing import Any

import pytest

from .conftest import Release

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
RBAC = "rbac.authorization.k8s.io"


def test_a_stolen_operator_token_cannot_rewrite_what_the_platform_owns(chart_release: Release) -> None:
    host = chart_release.host
    thief = f"system:serviceaccount:{chart_release.namespace}:{chart_release.service_account}"
    name = f"stolen-{secrets.token_hex(3)}"
    domain = {
        "apiVersion": "bizdomain.io/v1alpha1",
        "kind": "BusinessDomain",
        "metadata": {"name": name, "labels": {"tier": "gold"}},
        "spec": {"displayName": "Payments", "owners": [{"kind": "User", "name": "owner@example.com"}]},
    }
    host.kubectl("apply", "-f", "-", input=json.dumps(domain))
    # kubectl patch reads first; the token may list and watch, not get: a reader group adds only get.
    reader = f"{name}-reader"
    host.kubectl("create", "clusterrole", reader, "--verb=get", "--resource=businessdomains.bizdomain.io")
    host.kubectl("create", "clusterrolebinding", reader, f"--clusterrole={reader}", f"--group={reader}")

    def as_thief(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return host.kubectl(*args, as_user=thief, as_groups=[reader], check=check)

    try:
        before = json.loads(host.kubectl("get", "businessdomain", name, "-o", "json").stdout)
        attempts = {
            "spec": ({"spec": {"displayName": "pwned", "owners": [{"kind": "User", "name": "mallory"}]}}, "a spec"),
            "labels": ({"metadata": {"labels": {"tier": "platinum"}}}, "labels"),
            "adopt": ({"metadata": {"annotations": {"bizdomain.io/adopt-uids": "some-uid"}}}, "adopt-uids"),
        }
        for what, (patch, said) in attempts.items():
            refused = as_thief("patch", "businessdomain", name, "--type=merge", "-p", json.dumps(patch), check=False)
            assert refused.returncode != 0, what
            assert "operator-identity" in refused.stderr, refused.stderr
            assert said in refused.stderr, refused.stderr
        made = host.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({**domain, "metadata": {"name": f"{name}-2"}}),
            as_user=thief,
            check=False,
        )
        assert made.returncode != 0, made.stdout
        after = json.loads(host.kubectl("get", "businessdomain", name, "-o", "json").stdout)
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        # What the operator does need still passes: its finalizer, on and off.
        finalizer = {"metadata": {"finalizers": ["bizdomain.io/test"]}}
        as_thief("patch", "businessdomain", name, "--type=merge", "-p", json.dumps(finalizer))
        cleared = {"metadata": {"finalizers": None}}
        as_thief("patch", "businessdomain", name, "--type=merge", "-p", json.dumps(cleared))
    finally:
        host.kubectl("delete", "businessdomain", name, "--ignore-not-found", "--wait=false")
        host.kubectl("delete", "clusterrolebinding,clusterrole", reader, "--ignore-not-found")


def test_a_stolen_operator_token_touches_nothing_on_the_host_the_operator_did_not_make(
    chart_release: Release,
) -> None:
    """RBAC gives the operator namespaces, RoleBindings and quotas cluster-wide (it makes a namespace
    per domain); the chart's `<release>-operator-host-boundary` policy holds a stolen token to what
    carries the operator's host labels, in (or as) a domain's host namespace."""
    host = chart_release.host
    thief = f"system:serviceaccount:{chart_release.namespace}:{chart_release.service_account}"
    tag = secrets.token_hex(3)
    victim, domain = f"victim-{tag}", f"stolen{tag}"
    ours = {"app.kubernetes.io/managed-by": "bizdomain", "bizdomain.io/component": "host"}
    ours["bizdomain.io/domain"] = domain
    # kubectl delete and patch read first; the token may list, not get: a reader group adds only get.
    reader = f"{victim}-reader"
    host.kubectl("create", "clusterrole", reader, "--verb=get", "--resource=namespaces,rolebindings,resourcequotas")
    host.kubectl("create", "clusterrolebinding", reader, f"--clusterrole={reader}", f"--group={reader}")
    # Someone else's namespace, with its own RoleBinding and quota.
    host.kubectl("create", "namespace", victim)
    host.kubectl("create", "rolebinding", "app-admins", "-n", victim, "--clusterrole=admin", "--group=app-team")
    host.kubectl("create", "quota", "app", "-n", victim, "--hard=pods=10")

    def as_thief(*args: str, body: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        text = json.dumps(body) if body is not None else None
        return host.kubectl(*args, as_user=thief, as_groups=[reader], check=False, input=text)

    def owners(namespace: str, name: str = "bizdomain.io:owners") -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": ours},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "bizdomain.io:domain-owner"},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "mallory"}],
        }

    def namespace(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": ours}}

    try:
        refused = {
            "delete someone's namespace": as_thief("delete", "namespace", victim, "--wait=false"),
            "delete someone's RoleBinding": as_thief("delete", "rolebinding", "app-admins", "-n", victim),
            "delete someone's quota": as_thief("delete", "quota", "app", "-n", victim),
            "label someone's namespace as its own": as_thief(
                "label", "namespace", victim, *(f"{k}={v}" for k, v in ours.items())
            ),
            "bind owners in someone's namespace": as_thief("create", "-f", "-", body=owners(victim)),
            "a namespace of its own, named freely": as_thief("create", "-f", "-", body=namespace(f"kube-{tag}")),
        }
        for what, result in refused.items():
            assert result.returncode != 0, what
            assert "operator-host-boundary" in result.stderr, (what, result.stderr)
        assert host.kubectl("get", "namespace", victim, "-o", "jsonpath={.status.phase}").stdout == "Active"
        assert "bizdomain.io/component" not in host.kubectl("get", "namespace", victim, "--show-labels").stdout
        host.kubectl("get", "rolebinding", "app-admins", "-n", victim)
        host.kubectl("get", "quota", "app", "-n", victim)
        assert host.kubectl("get", "namespace", f"kube-{tag}", check=False).returncode != 0

        # What the operator does is still allowed: its own host namespace, the owners' binding, and deleting
        # them; but in it, no RoleBinding of another name, to another role, and no other quota.
        home = f"domain-{domain}"
        assert as_thief("create", "-f", "-", body=namespace(home)).returncode == 0
        assert as_thief("create", "-f", "-", body=owners(home)).returncode == 0
        backdoor = as_thief("create", "-f", "-", body=owners(home, "backdoor"))
        assert backdoor.returncode != 0
        assert "makes only two RoleBindings" in backdoor.stderr, backdoor.stderr
        elsewhere = owners(home)
        elsewhere["metadata"]["labels"] = {**ours, "bizdomain.io/domain": "other"}
        elsewhere["metadata"]["name"] = "bizdomain.io:sandboxers"
        moved = as_thief("create", "-f", "-", body=elsewhere)
        assert moved.returncode != 0
        assert "operator-host-boundary" in moved.stderr, moved.stderr
        assert as_thief("delete", "rolebinding", "bizdomain.io:owners", "-n", home).returncode == 0
        assert as_thief("delete", "namespace", home, "--wait=false").returncode == 0
    finally:
        host.kubectl("delete", "namespace", victim, f"domain-{domain}", "--ignore-not-found", "--wait=false")
        host.kubectl("delete", "clusterrolebinding,clusterrole", reader, "--ignore-not-found")
