"""A stolen host operator token, replayed with the chart's RBAC and admission policies: the
ServiceAccount may patch bizdomain's objects for its finalizer, and the chart's
`<release>-operator-identity` policy refuses everything else it could do with that right."""

from __future__ import annotations

import json
import secrets
import subprocess

import pytest

from .conftest import Release

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


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
