"""End to end: a domain with dev and prod bindings, reconciled by the running operator.

Checks what a platform engineer would: the objects on each member, what each department
may do there (`kubectl auth can-i`), that changes and drift converge, that two domains
never touch each other, and that deletion honours the policy.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest

from support import wait_until
from support.platform import MakeDomain, Platform, binding_doc, domain_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def can_i(platform: Platform, cluster: str, verb: str, resource: str, namespace: str, user: str, *groups: str) -> bool:  # noqa: PLR0917
    result = platform.member(cluster).kubectl(
        "auth", "can-i", verb, resource, "-n", namespace, as_user=user, as_groups=groups, check=False
    )
    return result.stdout.strip() == "yes"


def managed(platform: Platform, cluster: str, kind: str, domain: str) -> list[dict[str, Any]]:
    out = (
        platform.member(cluster).kubectl("get", kind, "-A", "-o", "json", "-l", f"bizdomain.io/domain={domain}").stdout
    )
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def test_domain_converges_on_every_member(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    seconds = make_domain(unique_name)
    print(f"\n{unique_name}: apply -> Ready with two environments in {seconds:.1f}s")
    domain = platform.require("businessdomain", unique_name)
    assert domain["status"]["summary"] == {"environments": "dev,prod", "clusters": "2/2"}
    printed = platform.host.kubectl("get", "domains").stdout
    line = next(row for row in printed.splitlines() if row.startswith(unique_name))
    assert "dev,prod" in line
    assert "True" in line

    for env in ("dev", "prod"):
        namespace = platform.require("namespace", unique_name, cluster=env)
        labels = namespace["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "bizdomain"
        assert labels["bizdomain.io/domain"] == unique_name
        assert labels["bizdomain.io/environment"] == env
        workspace = platform.require("workspace", f"{unique_name}.{env}", cluster=env)
        assert workspace["spec"]["namespaces"] == [unique_name]
        assert workspace["spec"]["displayName"] == f"领域 {unique_name}"
        assert platform.condition(workspace)["status"] == "True"
        assert unique_name in platform.member(env).kubectl("get", "workspaces").stdout
        quota = platform.require("resourcequota", "bizdomain-quota", unique_name, cluster=env)
        assert quota["spec"]["hard"] == {"requests.cpu": "4", "pods": "20"}
        limits = platform.require("limitrange", "bizdomain-limits", unique_name, cluster=env)
        assert limits["spec"]["limits"][0]["default"] == {"cpu": "500m", "memory": "256Mi"}
        bindings = {rb["metadata"]["name"] for rb in managed(platform, env, "rolebindings", unique_name)}
        backend_role = "developer" if env == "dev" else "viewer"
        assert bindings == {
            f"bizdomain.io:department:backend:{backend_role}",
            "bizdomain.io:department:sre:admin",
            "bizdomain.io:deployers",
        }

    ns, backend, sre = unique_name, f"{unique_name}-backend", f"{unique_name}-sre"
    deployer = "system:serviceaccount:ci:deployer"
    # backend may create Deployments in dev but only look in prod
    assert can_i(platform, "dev", "create", "deployments.apps", ns, "bob", backend)
    assert not can_i(platform, "prod", "create", "deployments.apps", ns, "bob", backend)
    assert can_i(platform, "prod", "get", "deployments.apps", ns, "bob", backend)
    # SRE is admin everywhere
    for env in ("dev", "prod"):
        assert can_i(platform, env, "create", "rolebindings.rbac.authorization.k8s.io", ns, "sam", sre)
        assert can_i(platform, env, "delete", "secrets", ns, "sam", sre)
    # the pipeline rolls out and scales, and nothing more
    for env in ("dev", "prod"):
        assert can_i(platform, env, "patch", "deployments.apps", ns, deployer)
        assert can_i(platform, env, "patch", "deployments.apps/scale", ns, deployer)
        assert not can_i(platform, env, "get", "secrets", ns, deployer)
        assert not can_i(platform, env, "create", "deployments.apps", ns, deployer)
        assert not can_i(platform, env, "delete", "namespaces", ns, deployer)
        # the marker the deployer admission policy knows deployers by, which nobody else holds
        # (`kubectl auth can-i` cannot ask about a resource no API serves; `--list` shows it)
        marker = re.compile(r"^deployers\.bizdomain\.io\s.*\[release\]", re.MULTILINE)
        listed = platform.member(env).kubectl("auth", "can-i", "--list", "-n", ns, as_user=deployer)
        assert marker.search(listed.stdout)
        listed = platform.member(env).kubectl("auth", "can-i", "--list", "-n", ns, as_user="sam", as_groups=[sre])
        assert not marker.search(listed.stdout)
    # a stranger can do nothing
    for env in ("dev", "prod"):
        assert not can_i(platform, env, "get", "pods", ns, "mallory", "strangers")
    # and nobody of the domain gets anything outside its namespaces
    assert not can_i(platform, "dev", "get", "pods", "kube-system", "bob", backend)


def test_changes_and_drift_converge(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    make_domain(unique_name, envs=("dev",))
    ns = unique_name
    # a department's role changes, and the quota: the member follows
    platform.apply(
        binding_doc(unique_name, "dev", access=[{"department": "backend", "role": "viewer"}], quota={"pods": "7"})
    )
    platform.wait_binding(unique_name, "dev")

    def rolebindings() -> set[str]:
        return {rb["metadata"]["name"] for rb in managed(platform, "dev", "rolebindings", unique_name)}

    wait_until(
        lambda: rolebindings() == {"bizdomain.io:department:backend:viewer", "bizdomain.io:deployers"},
        timeout=30,
        what="sre entry removed and backend switched to viewer",
    )
    quota = platform.require("resourcequota", "bizdomain-quota", ns, cluster="dev")
    assert quota["spec"]["hard"] == {"requests.cpu": "4", "pods": "7"}
    assert not can_i(platform, "dev", "create", "deployments.apps", ns, "bob", f"{unique_name}-backend")

    # drift: a RoleBinding deleted by hand comes back, a quota raised by hand is put back
    platform.member("dev").kubectl("delete", "rolebinding", "bizdomain.io:deployers", "-n", ns)
    platform.member("dev").kubectl(
        "patch", "resourcequota", "bizdomain-quota", "-n", ns, "--type=merge", "-p", '{"spec":{"hard":{"pods":"999"}}}'
    )
    wait_until(
        lambda: platform.get("rolebinding", "bizdomain.io:deployers", ns, cluster="dev"),
        timeout=30,
        what="deleted RoleBinding restored",
    )
    wait_until(
        lambda: platform.require("resourcequota", "bizdomain-quota", ns, cluster="dev")["spec"]["hard"]["pods"] == "7",
        timeout=30,
        what="hand-raised quota corrected",
    )

    def reasons() -> set[str]:
        events = platform.host.kubectl("get", "events", "-n", f"domain-{unique_name}", "-o", "json").stdout
        return {e["reason"] for e in json.loads(events)["items"]}

    wait_until(lambda: {"Created", "Corrected"} <= reasons(), timeout=15, what="Created and Corrected Events")


def test_two_domains_never_touch_each_other(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    make_domain(first, envs=("dev",))
    make_domain(second, envs=("dev",))
    assert {o["metadata"]["namespace"] for o in managed(platform, "dev", "rolebindings", first)} == {first}
    assert not can_i(platform, "dev", "get", "pods", second, "bob", f"{first}-backend")
    assert not can_i(platform, "dev", "get", "pods", first, "bob", f"{second}-backend")
    # deleting the second binding leaves the first domain exactly as it was
    before = platform.require("namespace", first, cluster="dev")["metadata"]["resourceVersion"]
    platform.delete("environmentbinding", "dev", f"domain-{second}")
    assert platform.require("namespace", first, cluster="dev")["metadata"]["resourceVersion"] == before
    assert len(managed(platform, "dev", "rolebindings", first)) == 3


def test_foreign_namespace_is_never_adopted(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    platform.member("dev").kubectl("create", "namespace", unique_name)
    platform.member("dev").kubectl("create", "configmap", "precious", "-n", unique_name, "--from-literal=k=v")
    try:
        platform.apply(domain_doc(unique_name))
        platform.wait_host_namespace(unique_name)
        platform.apply(binding_doc(unique_name, "dev"))
        binding = platform.wait_reason(unique_name, "dev", "NamespaceConflict")
        assert "not created by bizdomain" in platform.condition(binding)["message"]
        ns = platform.require("namespace", unique_name, cluster="dev")
        assert "app.kubernetes.io/managed-by" not in (ns["metadata"].get("labels") or {})
        assert managed(platform, "dev", "rolebindings", unique_name) == []
        # deleting the binding (policy Delete even) never deletes the foreign namespace
        platform.apply(binding_doc(unique_name, "dev", deletionPolicy="Delete"))
        platform.delete("environmentbinding", "dev", f"domain-{unique_name}")
        platform.delete("businessdomain", unique_name)
        assert platform.get("configmap", "precious", unique_name, cluster="dev") is not None
    finally:
        platform.delete("businessdomain", unique_name, wait=False)
        platform.member("dev").kubectl("delete", "namespace", unique_name, "--wait=false")


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_deletion_follows_the_policy(platform: Platform, unique_name: str, policy: str) -> None:
    name = f"{unique_name}-{policy.lower()}"
    platform.apply(domain_doc(name, deletionPolicy=policy))
    platform.wait_host_namespace(name)
    platform.apply(binding_doc(name, "dev"))
    platform.wait_binding(name, "dev")
    dev = platform.member("dev")
    # a workload in the namespace
    dev.kubectl("create", "deployment", "web", "--image=registry.invalid/web:1", "-n", name)
    dev.kubectl("create", "configmap", "settings", "-n", name, "--from-literal=a=b")

    platform.delete("environmentbinding", "dev", f"domain-{name}")  # waits for the finalizer
    assert managed(platform, "dev", "rolebindings", name) == []
    assert platform.get("workspace", f"{name}.dev", cluster="dev") is None
    if policy == "Retain":
        ns = platform.require("namespace", name, cluster="dev")
        # what restricts stays with the released namespace: the workload left there stays bounded
        quota = platform.require("resourcequota", "bizdomain-quota", name, cluster="dev")
        assert quota["spec"]["hard"] == {"requests.cpu": "4", "pods": "20"}
        labels = ns["metadata"]["labels"]
        assert labels["bizdomain.io/released"] == "true"
        assert "app.kubernetes.io/managed-by" not in labels
        assert ns["status"]["phase"] == "Active"
        assert platform.get("deployment", "web", name, cluster="dev") is not None
        dev.kubectl("delete", "namespace", name, "--wait=false")
    else:
        gone_or_going = platform.get("namespace", name, cluster="dev")
        assert gone_or_going is None or gone_or_going["metadata"].get("deletionTimestamp"), gone_or_going
        wait_until(lambda: platform.get("namespace", name, cluster="dev") is None, timeout=60, what="namespace gone")
    platform.delete("businessdomain", name)
    host_ns = platform.get("namespace", f"domain-{name}")  # the domain is gone: its namespace is going
    assert host_ns is None or host_ns["metadata"].get("deletionTimestamp"), host_ns
    wait_until(lambda: platform.get("namespace", f"domain-{name}") is None, timeout=60, what="host namespace gone")


def test_delete_is_refused_in_prod(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    make_domain(unique_name, envs=("prod",), bindings={"prod": {"deletionPolicy": "Delete"}})
    binding = platform.get("environmentbinding", "prod", f"domain-{unique_name}")
    assert "not allowed in the protected environment" in platform.condition(binding)["message"]
    ns = platform.require("namespace", unique_name, cluster="prod")
    assert ns["metadata"]["annotations"]["bizdomain.io/deletion-policy"] == "Retain"
    platform.delete("environmentbinding", "prod", f"domain-{unique_name}")
    ns = platform.require("namespace", unique_name, cluster="prod")
    assert not ns["metadata"].get("deletionTimestamp")
    assert ns["metadata"]["labels"]["bizdomain.io/released"] == "true"


def test_member_clusters_report_reachability(platform: Platform) -> None:
    for member in ("dev", "prod"):
        obj = platform.require("membercluster", member)
        assert obj["status"]["kubernetesVersion"] == "v1.37.2"
        assert platform.condition(obj)["reason"] == "Reachable"
        assert obj["status"]["lastProbeTime"]
    described = platform.host.kubectl("describe", "membercluster", "dev").stdout
    assert "Reachable" in described.split("Events:")[-1], described
    refused = [line for line in platform.operator.log().splitlines() if "failed" in line and ": 422 " in line]
    assert refused == [], "an Event or write was refused"


def test_metrics_follow_prometheus_conventions(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    make_domain(unique_name, envs=("dev",))
    url = f"http://127.0.0.1:{platform.operator.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    samples = [line for line in text.splitlines() if line.startswith("bizdomain_")]
    names = {line.split("{")[0].split(" ")[0] for line in samples}
    assert {
        "bizdomain_reconciles_total",
        "bizdomain_reconcile_duration_seconds_bucket",
        "bizdomain_objects_total",
        "bizdomain_member_cluster_reachable",
        "bizdomain_domains",
        "bizdomain_status_writes_total",
    } <= names

    def series(name: str) -> list[tuple[dict[str, str], float]]:
        out = []
        for line in samples:
            if line.startswith(name + "{"):
                labels, value = line[len(name) + 1 :].rsplit("} ", 1)
                out.append((dict(kv.split("=", 1) for kv in labels.replace('"', "").split(",")), float(value)))
        return out

    assert ({"cluster": "dev"}, 1.0) in series("bizdomain_member_cluster_reachable")
    created = {
        (lab["kind"], lab["action"]) for lab, v in series("bizdomain_objects_total") if lab["cluster"] == "dev" and v
    }
    assert {("Namespace", "created"), ("RoleBinding", "created"), ("Workspace", "created")} <= created
    assert any(lab == {"cluster": "dev", "outcome": "success"} and v for lab, v in series("bizdomain_reconciles_total"))
