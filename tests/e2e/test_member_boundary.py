"""The stolen member token: what the identity `bizdomain join` creates can and cannot do on a member.

The attacker holds the kubeconfig from the host Secret `member-<name>` and talks to the member's API
server directly, never through the operator. RBAC (no `escalate`, no ClusterRole or CRD writes,
`bind` only on bizdomain's roles) and join's admission policy (only what bizdomain makes) refuse
every step outside the namespaces bizdomain manages. Each test checks the refusal says what and why,
and that the victim objects keep their uid, labels and contents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.platform import NAMESPACE, MakeDomain, Platform
from support.poll import wait_until

from .test_security import member_kubeconfig

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

WHO = "bizdomain's member identity"
MANAGED = {"app.kubernetes.io/managed-by": "bizdomain"}
LABEL = "app.kubernetes.io/managed-by=bizdomain"


def tenant_labels(domain: str, environment: str = "dev") -> dict[str, str]:
    """What the operator puts on its objects in a tenant namespace (the policy wants the namespace's tenant)."""
    return {
        **MANAGED,
        "bizdomain.io/component": "tenant",
        "bizdomain.io/domain": domain,
        "bizdomain.io/environment": environment,
    }


def role_binding(namespace: str, role: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "mallory-takes-over", "namespace": namespace, "labels": labels or {}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}],
    }


class Attacker:
    """kubectl on one member with the token from the host Secret, and nothing else."""

    def __init__(self, platform: Platform, member: str, tmp_path: Path) -> None:
        self.platform, self.member = platform, member
        self.kubeconfig = member_kubeconfig(platform, member, tmp_path)

    def run(self, *args: str, input: str | None = None) -> Any:
        member = self.platform.member(self.member)
        return member.kubectl(f"--kubeconfig={self.kubeconfig}", *args, input=input, check=False)

    def refused(self, *args: str, input: str | None = None, says: str = "") -> str:
        result = self.run(*args, input=input)
        assert result.returncode != 0, f"kubectl {' '.join(args)} was allowed:\n{result.stdout}"
        assert says in result.stderr, result.stderr
        return str(result.stderr)

    def create(self, obj: dict[str, Any], says: str) -> str:
        return self.refused("create", "-f", "-", input=json.dumps(obj), says=says)


def snapshot(platform: Platform, member: str, namespace: str) -> dict[str, Any]:
    """What must not change: the namespace's uid and labels, and what is inside it."""
    ns = platform.get("namespace", namespace, cluster=member)
    assert ns is not None
    inside = platform.member(member).kubectl("get", "configmaps,rolebindings", "-n", namespace, "-o", "name")
    return {"uid": ns["metadata"]["uid"], "labels": ns["metadata"].get("labels"), "inside": inside.stdout}


@pytest.fixture
def victim(platform: Platform, unique_name: str) -> Any:
    """An unmanaged namespace on dev holding a ConfigMap, as any other team's would."""
    name = f"{unique_name}-victim"
    dev = platform.member("dev")
    dev.kubectl("create", "namespace", name)
    dev.kubectl("create", "configmap", "payroll", "-n", name, "--from-literal=k=v")
    yield name
    dev.kubectl("delete", "namespace", name, "--wait=false")


def test_no_binding_outside_managed_namespaces(platform: Platform, victim: str, tmp_path: Path) -> None:
    attacker = Attacker(platform, "dev", tmp_path)
    before = {ns: snapshot(platform, "dev", ns) for ns in ("kube-system", victim)}
    for namespace in ("kube-system", "default", victim, NAMESPACE):
        for labels in (None, MANAGED):
            attacker.create(role_binding(namespace, "bizdomain.io:admin", labels), says=WHO)
        attacker.create(role_binding(namespace, "cluster-admin"), says="forbidden")
    stderr = attacker.create(role_binding(victim, "bizdomain.io:admin", MANAGED), says=WHO)
    said = f"{WHO} may only write in namespaces labelled {LABEL}: refused on rolebindings {victim}/mallory-takes-over"
    assert said in stderr
    assert {ns: snapshot(platform, "dev", ns) for ns in before} == before
    for namespace in ("kube-system", victim):
        can = platform.member("dev").kubectl(
            "auth", "can-i", "get", "secrets", "-n", namespace, as_user="mallory", check=False
        )
        assert can.stdout.strip() == "no"


def test_no_cluster_admin_and_no_foreign_role_even_in_managed_namespaces(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    make_domain(unique_name, envs=("dev",))
    attacker = Attacker(platform, "dev", tmp_path)
    stderr = attacker.create(role_binding(unique_name, "cluster-admin", MANAGED), says="forbidden")
    assert "attempting to grant RBAC permissions not currently held" in stderr or WHO in stderr
    attacker.create(role_binding(unique_name, "edit", MANAGED), says="forbidden")
    # The blast radius, as the README says: inside bizdomain's own namespaces the token can grant
    # bizdomain's roles (that is the operator's job); never anything else, anywhere else.
    # (named as bizdomain names them and labelled for the namespace's tenant, so the operator, which did
    # not plan it, prunes it as its own)
    ours = role_binding(unique_name, "bizdomain.io:viewer", tenant_labels(unique_name))
    ours["metadata"]["name"] = "bizdomain.io:department:mallory:viewer"
    allowed = attacker.run("create", "-f", "-", input=json.dumps(ours))
    assert allowed.returncode == 0, allowed.stderr
    wait_until(
        lambda: platform.get("rolebinding", ours["metadata"]["name"], unique_name, cluster="dev") is None,
        timeout=60, what="the operator pruning the RoleBinding it did not plan",
    )  # fmt: skip


def test_platform_roles_and_crd_cannot_be_rewritten(platform: Platform, tmp_path: Path) -> None:
    attacker = Attacker(platform, "dev", tmp_path)
    dev = platform.member("dev")
    before = dev.kubectl("get", "clusterrole", "bizdomain.io:deployer", "-o", "json").stdout
    widened = json.loads(before)
    widened["rules"] = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    attacker.refused("replace", "-f", "-", input=json.dumps(widened), says="forbidden")
    patch = json.dumps({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
    attacker.refused("patch", "clusterrole", "bizdomain.io:deployer", "--type=merge", "-p", patch, says="forbidden")
    attacker.refused("delete", "clusterrole", "bizdomain.io:admin", says="forbidden")
    attacker.refused("delete", "crd", "workspaces.bizdomain.io", says="forbidden")
    attacker.refused("delete", "validatingadmissionpolicy", "bizdomain-operator-boundary", says="forbidden")
    after = json.loads(dev.kubectl("get", "clusterrole", "bizdomain.io:deployer", "-o", "json").stdout)
    assert after["rules"] == json.loads(before)["rules"]
    assert after["metadata"]["resourceVersion"] == json.loads(before)["metadata"]["resourceVersion"]


def test_system_and_unmanaged_namespaces_cannot_be_touched(platform: Platform, victim: str, tmp_path: Path) -> None:
    attacker = Attacker(platform, "dev", tmp_path)
    before = {ns: snapshot(platform, "dev", ns) for ns in ("kube-system", "default", victim)}
    for namespace in before:
        attacker.refused("label", "namespace", namespace, "app.kubernetes.io/managed-by=bizdomain", says=WHO)
        attacker.refused("label", "namespace", namespace, "bizdomain.io/released=true", says=WHO)
        attacker.refused("delete", "namespace", namespace, "--wait=false", says="")
    stderr = attacker.refused("delete", "namespace", victim, "--wait=false", says=WHO)
    assert (
        f"may only delete namespaces labelled app.kubernetes.io/managed-by=bizdomain: refused on namespace {victim}"
        in stderr
    )
    attacker.refused("create", "namespace", "kube-mallory", says=WHO)
    unlabelled = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{victim}-x"}}
    attacker.create(unlabelled, says="may only create namespaces labelled app.kubernetes.io/managed-by=bizdomain")
    attacker.refused("delete", "configmap", "payroll", "-n", victim, says="forbidden")
    assert {ns: snapshot(platform, "dev", ns) for ns in before} == before


def test_protected_namespaces_can_never_be_deleted_nor_unprotected(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    make_domain(unique_name, envs=("prod",))
    prod = platform.member("prod")
    prod.kubectl("label", "namespace", unique_name, "bizdomain.io/protected=true")  # what a protected env carries
    prod.kubectl("create", "configmap", "ledger", "-n", unique_name, "--from-literal=k=v")
    attacker = Attacker(platform, "prod", tmp_path)
    before = snapshot(platform, "prod", unique_name)
    stderr = attacker.refused("delete", "namespace", unique_name, "--wait=false", says="bizdomain.io/protected=true")
    assert f"namespace {unique_name} is labelled bizdomain.io/protected=true: {WHO} may never delete it" in stderr
    attacker.refused("label", "namespace", unique_name, "bizdomain.io/protected-", says="may never delete it or remove")
    attacker.refused("label", "--overwrite", "namespace", unique_name, "bizdomain.io/protected=false", says=WHO)
    # releasing it (dropping managed-by) keeps it protected; the operator's own updates keep the label
    assert attacker.run("label", "namespace", unique_name, "mallory=was-here").returncode == 0
    prod.kubectl("label", "namespace", unique_name, "mallory-")
    assert snapshot(platform, "prod", unique_name) == before
    platform.wait_binding(unique_name, "prod")


def test_no_secrets_no_pods_no_tokens_for_others(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    make_domain(unique_name, envs=("dev",))
    attacker = Attacker(platform, "dev", tmp_path)
    for namespace in (unique_name, "kube-system", NAMESPACE):
        attacker.refused("get", "secrets", "-n", namespace, says="forbidden")
        attacker.refused("get", "pods", "-n", namespace, says="forbidden")
        attacker.refused("get", "configmaps", "-n", namespace, says="forbidden")
    for namespace, account in (("kube-system", "default"), (NAMESPACE, "default"), (unique_name, "default")):
        attacker.refused("create", "token", account, "-n", namespace, says="forbidden")
    # its own, for renewal, is allowed (and only in its own namespace)
    own = attacker.run("create", "token", "bizdomain-operator", "-n", NAMESPACE, "--duration=10m")
    assert own.returncode == 0, own.stderr


def test_inside_managed_namespaces_only_bizdomain_objects(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    make_domain(unique_name, envs=("dev",))
    dev = platform.member("dev")
    attacker = Attacker(platform, "dev", tmp_path)
    # a tenant admin's own objects in the namespace: not the operator's to change or delete
    dev.kubectl(
        "create", "rolebinding", "hand-made", "--clusterrole=bizdomain.io:viewer", "--user=alice", "-n", unique_name
    )
    quota_rules = ["--verb=get", "--resource=resourcequotas"]
    dev.kubectl("create", "role", "quota-reader", *quota_rules, "-n", unique_name)
    before = snapshot(platform, "dev", unique_name)
    attacker.create(role_binding(unique_name, "bizdomain.io:viewer"), says="may only create or change objects labelled")
    attacker.refused("delete", "rolebinding", "hand-made", "-n", unique_name, says="may only change or delete objects")
    attacker.refused("label", "rolebinding", "hand-made", "-n", unique_name, "app.kubernetes.io/managed-by=bizdomain",
                     says="may only change or delete objects labelled")  # fmt: skip
    # RBAC lets it bind a Role whose rights it holds; the policy does not
    to_role = role_binding(unique_name, "quota-reader", tenant_labels(unique_name))
    to_role["metadata"]["name"] = "bizdomain.io:department:mallory:quota-reader"
    to_role["roleRef"]["kind"] = "Role"
    attacker.create(to_role, says="may only bind the ClusterRoles bizdomain.io:admin, bizdomain.io:deployer")
    workspace = {"apiVersion": "bizdomain.io/v1alpha1", "kind": "Workspace", "metadata": {"name": f"{unique_name}.x"},
                 "spec": {"domain": unique_name, "displayName": "x", "environment": "dev"}}  # fmt: skip
    attacker.create(
        workspace,
        says=f"objects labelled app.kubernetes.io/managed-by=bizdomain: refused on workspaces {unique_name}.x",
    )
    assert snapshot(platform, "dev", unique_name) == before
    dev.kubectl("delete", "rolebinding", "hand-made", "-n", unique_name)
    dev.kubectl("delete", "role", "quota-reader", "-n", unique_name)


def test_no_backdoor_namespace_no_foreign_or_unnamed_rolebinding_no_long_token(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    """The security review's backdoors with the stolen token: a namespace of its own at Pod Security
    privileged, RoleBindings that are not bizdomain's or claim another tenant, a ten-year token."""
    make_domain(unique_name, envs=("dev",))
    attacker = Attacker(platform, "dev", tmp_path)
    tenant = tenant_labels(unique_name)
    backdoor: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": f"{unique_name}-backdoor"},
    }
    backdoor["metadata"]["labels"] = {**MANAGED, "pod-security.kubernetes.io/enforce": "privileged"}
    attacker.create(backdoor, says="may only make namespaces that carry a tenant's labels")
    backdoor["metadata"]["labels"] = {**tenant, "pod-security.kubernetes.io/enforce": "privileged"}
    attacker.create(backdoor, says="Pod Security level of baseline or restricted")
    before = snapshot(platform, "dev", unique_name)
    plain = role_binding(unique_name, "bizdomain.io:admin", tenant)
    attacker.create(plain, says="may only write RoleBindings named bizdomain.io:*")
    foreign = role_binding(unique_name, "bizdomain.io:admin", {**tenant, "bizdomain.io/domain": "someone-else"})
    foreign["metadata"]["name"] = "bizdomain.io:department:zz:admin"
    attacker.create(foreign, says="may only write objects labelled for the tenant of their namespace")
    attacker.refused(
        "create", "token", "bizdomain-operator", "-n", NAMESPACE, "--duration=87600h",
        says="may only mint tokens that live at most 48 hours",
    )  # fmt: skip
    assert snapshot(platform, "dev", unique_name) == before
    assert platform.get("namespace", f"{unique_name}-backdoor", cluster="dev") is None
