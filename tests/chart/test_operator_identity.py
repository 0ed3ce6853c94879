"""A stolen host operator token, replayed with the chart's RBAC and admission policies: the
ServiceAccount may patch bizdomain's objects for its finalizer, and the chart's
`<release>-operator-identity` policy refuses everything else it could do with that right."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from support import ClusterHandle

from .conftest import Release

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
RBAC = "rbac.authorization.k8s.io"
# A made-up owner: the garbage collector would delete what names it (and the operator then its namespaces).
GHOST = {"apiVersion": "v1", "kind": "Namespace", "name": "ghost", "uid": "0d7a6e1c-0000-4000-8000-000000000000"}


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
            "owner": ({"metadata": {"ownerReferences": [GHOST]}}, "ownerReferences"),
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


@dataclass
class Thief:
    """The operator's ServiceAccount, impersonated, with a domain name of its own to make objects for."""

    host: ClusterHandle
    user: str
    reader: str
    domain: str

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/managed-by": "bizdomain", "bizdomain.io/component": "host",
                "bizdomain.io/domain": self.domain}  # fmt: skip

    @property
    def home(self) -> str:
        return f"domain-{self.domain}"

    def __call__(self, *args: str, body: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        text = json.dumps(body) if body is not None else None
        return self.host.kubectl(*args, as_user=self.user, as_groups=[self.reader], check=False, input=text)

    def owners(self, namespace: str, name: str = "bizdomain.io:owners") -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": self.labels},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "bizdomain.io:domain-owner"},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "mallory"}],
        }

    def namespace(self, name: str) -> dict[str, Any]:
        labels = {**self.labels, "bizdomain.io/domain-uid": "u-1"}
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@pytest.fixture
def thief(chart_release: Release) -> Iterator[Thief]:
    host = chart_release.host
    tag = secrets.token_hex(3)
    # kubectl delete and patch read first; the token may list, not get: a reader group adds only get.
    reader = f"thief-{tag}-reader"
    host.kubectl("create", "clusterrole", reader, "--verb=get", "--resource=namespaces,rolebindings,resourcequotas")
    host.kubectl("create", "clusterrolebinding", reader, f"--clusterrole={reader}", f"--group={reader}")
    user = f"system:serviceaccount:{chart_release.namespace}:{chart_release.service_account}"
    made = Thief(host, user, reader, f"stolen{tag}")
    try:
        yield made
    finally:
        host.kubectl("delete", "namespace", made.home, "--ignore-not-found", "--wait=false")
        host.kubectl("delete", "clusterrolebinding,clusterrole", reader, "--ignore-not-found")


def test_a_stolen_operator_token_touches_nothing_on_the_host_the_operator_did_not_make(thief: Thief) -> None:
    """RBAC gives the operator namespaces, RoleBindings and quotas cluster-wide (it makes a namespace
    per domain); the chart's `<release>-operator-host-boundary` policy holds a stolen token to what
    carries the operator's host labels, in (or as) a domain's host namespace."""
    host, victim = thief.host, f"victim-{thief.domain}"
    # Someone else's namespace, with its own RoleBinding and quota.
    host.kubectl("create", "namespace", victim)
    host.kubectl("create", "rolebinding", "app-admins", "-n", victim, "--clusterrole=admin", "--group=app-team")
    host.kubectl("create", "quota", "app", "-n", victim, "--hard=pods=10")
    try:
        refused = {
            "delete someone's namespace": thief("delete", "namespace", victim, "--wait=false"),
            "delete someone's RoleBinding": thief("delete", "rolebinding", "app-admins", "-n", victim),
            "delete someone's quota": thief("delete", "quota", "app", "-n", victim),
            "label someone's namespace as its own": thief(
                "label", "namespace", victim, *(f"{k}={v}" for k, v in thief.labels.items())
            ),
            "bind owners in someone's namespace": thief("create", "-f", "-", body=thief.owners(victim)),
            "a namespace of its own, named freely": thief("create", "-f", "-", body=thief.namespace(f"kube-{victim}")),
        }
        for what, result in refused.items():
            assert result.returncode != 0, what
            assert "operator-host-boundary" in result.stderr, (what, result.stderr)
        assert host.kubectl("get", "namespace", victim, "-o", "jsonpath={.status.phase}").stdout == "Active"
        assert "bizdomain.io/component" not in host.kubectl("get", "namespace", victim, "--show-labels").stdout
        host.kubectl("get", "rolebinding", "app-admins", "-n", victim)
        host.kubectl("get", "quota", "app", "-n", victim)
        assert host.kubectl("get", "namespace", f"kube-{victim}", check=False).returncode != 0
    finally:
        host.kubectl("delete", "namespace", victim, "--ignore-not-found", "--wait=false")


def test_in_its_own_namespaces_a_stolen_token_does_only_what_the_operator_does(thief: Thief) -> None:
    """Its own host namespace, the owners' binding, the cap, and deleting them pass; another RoleBinding,
    another role, another cap, the sandbox rules, the domain uid or an owner for the garbage collector do not."""
    home = thief.home
    assert thief("create", "-f", "-", body=thief.namespace(home)).returncode == 0
    assert thief("create", "-f", "-", body=thief.owners(home)).returncode == 0
    backdoor = thief("create", "-f", "-", body=thief.owners(home, "backdoor"))
    assert backdoor.returncode != 0
    assert "makes only two RoleBindings" in backdoor.stderr, backdoor.stderr
    elsewhere = thief.owners(home, "bizdomain.io:sandboxers")
    elsewhere["metadata"]["labels"] = {**thief.labels, "bizdomain.io/domain": "other"}
    moved = thief("create", "-f", "-", body=elsewhere)
    assert moved.returncode != 0
    assert "operator-host-boundary" in moved.stderr, moved.stderr
    # A Role of the same name as the ClusterRole (one the token holds every rule of: none), bound by name.
    empty = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "rules": [],
             "metadata": {"name": "bizdomain.io:sandbox-creator", "namespace": home}}  # fmt: skip
    thief.host.kubectl("create", "-f", "-", input=json.dumps(empty))
    role = thief.owners(home, "bizdomain.io:sandboxers")
    role["roleRef"] = {"apiGroup": RBAC, "kind": "Role", "name": "bizdomain.io:sandbox-creator"}
    assert "makes only two RoleBindings" in thief("create", "-f", "-", body=role).stderr
    cap = {"count/environmentbindings.bizdomain.io": "10", "count/sandboxes.bizdomain.io": "5"}
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": cap},
             "metadata": {"name": "bizdomain-bindings", "namespace": home, "labels": thief.labels}}  # fmt: skip
    assert thief("create", "-f", "-", body=quota).returncode == 0
    ghost = json.dumps({"metadata": {"ownerReferences": [GHOST]}})
    widened = {
        "a higher cap": (["patch", "quota", "bizdomain-bindings", "-n", home, "--type=merge", "-p",
                          '{"spec":{"hard":{"count/environmentbindings.bizdomain.io":"100000"}}}'], "caps"),
        "a cap of 0": (["patch", "quota", "bizdomain-bindings", "-n", home, "--type=merge", "-p",
                        '{"spec":{"hard":{"count/sandboxes.bizdomain.io":"0"}}}'], "caps"),
        "sandboxes in prod": (["annotate", "namespace", home, "sandboxers.bizdomain.io/prod=User:x"], "sandboxes"),
        "a longer lifetime": (["annotate", "namespace", home, "sandbox.bizdomain.io/max-lifetime-seconds=999999"],
                              "sandboxes"),
        "another domain uid": (["label", "--overwrite", "namespace", home, "bizdomain.io/domain-uid=x"], "domain uid"),
        "an owner": (["patch", "namespace", home, "--type=merge", "-p", ghost], "ownerReferences"),
    }  # fmt: skip
    for what, (args, said) in widened.items():
        result = thief(*args)
        assert result.returncode != 0, what
        assert said in result.stderr, (what, result.stderr)
    assert thief("annotate", "namespace", home, "sandboxers.bizdomain.io/dev=User:alice").returncode == 0
    assert thief("delete", "rolebinding", "bizdomain.io:owners", "-n", home).returncode == 0
    assert thief("delete", "quota", "bizdomain-bindings", "-n", home).returncode == 0
    assert thief("delete", "namespace", home, "--wait=false").returncode == 0
