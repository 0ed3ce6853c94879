"""Tenancy bounds, acting as the attacker: a domain owner past the binding cap, someone who
prepared a host namespace before the domain existed, and a member admin forging another
domain's labels. Each gets a clear refusal or nothing at all; the victim is untouched.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from support import wait_until
from support.platform import MEMBERS, MakeDomain, Platform, binding_doc, domain_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

QUOTA = "bizdomain-bindings"
COUNT = "count/environmentbindings.bizdomain.io"
# The same quota caps the domain's Sandboxes (platform default 5).
CAPS = {COUNT: "10", "count/sandboxes.bizdomain.io": "5"}
TO_99 = json.dumps({"spec": {"hard": {COUNT: "99"}}})
OWNER_ROLE = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bizdomain.io:domain-owner"}


def _yaml(*docs: dict[str, Any]) -> str:
    return "\n---\n".join(yaml.safe_dump(d) for d in docs)


def _events(platform: Platform, namespace: str) -> list[dict[str, Any]]:
    out = platform.host.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def test_bindings_per_domain_are_capped_by_a_quota_the_owner_cannot_touch(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d, host = unique_name, platform.host
    ns, owner = f"domain-{d}", f"{d}-owner@example.com"
    make_domain(d, envs=())

    def counted() -> dict[str, Any] | None:
        quota = platform.get("resourcequota", QUOTA, ns)
        return quota if quota and COUNT in ((quota.get("status") or {}).get("used") or {}) else None

    quota = wait_until(counted, timeout=30, what="the binding quota, counted by the quota controller")
    assert quota["spec"]["hard"] == CAPS
    assert quota["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "bizdomain"

    # Up to the cap, as the owner (environments no member serves: nothing lands on a member).
    ten = [binding_doc(d, f"x{i}") for i in range(10)]
    host.kubectl("apply", "-f", "-", input=_yaml(*ten), as_user=owner)
    refused = host.kubectl("apply", "-f", "-", input=_yaml(binding_doc(d, "x10")), as_user=owner, check=False)
    assert refused.returncode != 0
    assert f"exceeded quota: {QUOTA}" in refused.stderr, refused.stderr
    assert f"limited: {COUNT}=10" in refused.stderr, refused.stderr
    assert platform.get("environmentbinding", "x10", ns) is None

    # The owner reads the cap, and can neither change it, delete it nor add a quota of their own.
    assert host.kubectl("get", "resourcequota", QUOTA, "-n", ns, as_user=owner).returncode == 0
    for attempt in (
        ("delete", "resourcequota", QUOTA, "-n", ns),
        ("patch", "resourcequota", QUOTA, "-n", ns, "--type=merge", "-p", TO_99),
        ("label", "resourcequota", QUOTA, "-n", ns, "app.kubernetes.io/managed-by-"),
        ("create", "quota", "mine", "-n", ns, f"--hard={COUNT}=99"),
    ):
        result = host.kubectl(*attempt, as_user=owner, check=False)
        assert result.returncode != 0, f"{attempt}: {result.stdout}"
        assert "Forbidden" in result.stderr or "forbidden" in result.stderr, result.stderr
    assert platform.require("resourcequota", QUOTA, ns)["spec"]["hard"] == CAPS

    # A platform admin's hand edit is corrected; a deleted quota comes back.
    host.kubectl("patch", "resourcequota", QUOTA, "-n", ns, "--type=merge", "-p", TO_99)
    wait_until(
        lambda: platform.require("resourcequota", QUOTA, ns)["spec"]["hard"] == CAPS,
        timeout=30,
        what="the quota corrected back to the cap",
    )
    uid = platform.require("resourcequota", QUOTA, ns)["metadata"]["uid"]
    host.kubectl("delete", "resourcequota", QUOTA, "-n", ns)
    back = wait_until(
        lambda: (q := platform.get("resourcequota", QUOTA, ns)) and q["metadata"]["uid"] != uid and q,
        timeout=30,
        what="the deleted quota made again",
    )
    assert back["spec"]["hard"] == CAPS
    wait_until(counted, timeout=30, what="the new quota counted")
    again = host.kubectl("apply", "-f", "-", input=_yaml(binding_doc(d, "x10")), as_user=owner, check=False)
    assert f"exceeded quota: {QUOTA}" in again.stderr, again.stderr


def test_a_host_namespace_the_operator_did_not_make_is_never_adopted(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    """Mallory prepares domain-<x> (with a RoleBinding that lets her write bindings there) before
    the platform creates BusinessDomain x: the operator writes nothing into it and acts on nothing
    in it; the domain says HostNamespaceConflict; deleting the domain leaves her namespace alone."""
    x, host = unique_name, platform.host
    ns, mallory = f"domain-{x}", "mallory@example.com"
    host.kubectl("create", "namespace", ns)
    try:
        trap = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "mallory", "namespace": ns},
            "roleRef": OWNER_ROLE,
            "subjects": [{"kind": "User", "name": mallory, "apiGroup": "rbac.authorization.k8s.io"}],
        }
        platform.apply(trap)
        before_ns = platform.require("namespace", ns)["metadata"]
        before_rb = platform.require("rolebinding", "mallory", ns)["metadata"]

        platform.apply(domain_doc(x))
        domain = platform.wait_ready_condition(
            "businessdomain", x, timeout=30, status="False", reason="HostNamespaceConflict"
        )
        message = platform.condition(domain)["message"]
        assert f"host namespace '{ns}' already exists and was not created by bizdomain" in message
        assert "not acted on" in message
        events = [e for e in _events(platform, "default") if e["involvedObject"].get("name") == x]
        assert "HostNamespaceConflict" in {e["reason"] for e in events}

        # Mallory's rights there work (it is her namespace), and what she writes is not acted on.
        host.kubectl("apply", "-f", "-", input=_yaml(binding_doc(x, "dev")), as_user=mallory)
        make_domain(f"{x}-ctl", envs=("dev",))  # a later change, synced after hers
        for member in MEMBERS:
            found = platform.member(member).kubectl(
                "get", "namespaces,workspaces", "-l", f"bizdomain.io/domain={x}", "-o", "name"
            )
            assert found.stdout.strip() == "", f"{member}: {found.stdout}"
        assert "status" not in platform.require("environmentbinding", "dev", ns), "nothing written into her namespace"
        assert platform.get("rolebinding", "bizdomain.io:owners", ns) is None
        assert platform.get("resourcequota", QUOTA, ns) is None
        assert platform.require("namespace", ns)["metadata"] == before_ns
        assert platform.require("rolebinding", "mallory", ns)["metadata"] == before_rb

        platform.delete("businessdomain", x, wait=False)
        wait_until(lambda: platform.get("businessdomain", x) is None, timeout=60, what=f"domain {x} deleted")
        left = platform.require("namespace", ns)["metadata"]
        assert (left["uid"], left.get("deletionTimestamp")) == (before_ns["uid"], None), "never deleted"
    finally:
        platform.delete("businessdomain", x, wait=False)
        platform.delete("namespace", ns, wait=False)


def test_events_never_land_on_another_domains_binding(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    """A member admin of domain a forges, in a's namespace, a RoleBinding labelled as domain b's:
    b's binding hears nothing about a's namespace, and the operator leaves the forgery alone
    (it did not make it) instead of pruning it as b's."""
    a, b = f"{unique_name}a", f"{unique_name}b"
    make_domain(a, envs=("dev",))
    make_domain(b, envs=("dev",))
    dev = platform.member("dev")
    forged = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": "forged",
            "namespace": a,
            "labels": {
                "app.kubernetes.io/managed-by": "bizdomain",
                "bizdomain.io/component": "tenant",
                "bizdomain.io/domain": b,
                "bizdomain.io/environment": "dev",
            },
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "eve@example.com", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    dev.kubectl("apply", "-f", "-", input=_yaml(forged), as_user="eve@example.com", as_groups=(f"{a}-sre",))
    made = platform.require("rolebinding", "forged", a, cluster="dev")["metadata"]

    for round_ in (1, 2):  # two passes over b, each after the forgery exists
        platform.apply(domain_doc(b, description=f"round {round_}"))
        platform.wait_domain_ready(b)
        platform.wait_binding(b, "dev")

    still = platform.get("rolebinding", "forged", a, cluster="dev")
    assert still is not None, "the operator deleted an object it did not make"
    assert (still["metadata"]["uid"], still["metadata"]["resourceVersion"]) == (made["uid"], made["resourceVersion"])
    for mine, other in ((a, b), (b, a)):
        for event in _events(platform, f"domain-{mine}"):
            assert other not in event["message"], f"an Event of {mine} names {other}: {event['message']}"
        status = json.dumps(platform.require("environmentbinding", "dev", f"domain-{mine}")["status"])
        assert other not in status, f"the status of {mine} names {other}"
    platform.wait_binding(a, "dev")


def test_a_reused_domain_name_gets_a_fresh_host_namespace(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    """A domain deleted and created again under the same name for another team: the new domain's
    host namespace is a new one (its uid stamped on it), with none of the old bindings and none of
    the old owners' rights; the old namespace is never taken over while it is being deleted."""
    d, host = unique_name, platform.host
    ns, old_owner, new_owner = f"domain-{d}", f"{d}-owner@example.com", "new-team@example.com"
    make_domain(d, envs=("dev",))
    old = platform.require("namespace", ns)["metadata"]
    assert old["labels"]["bizdomain.io/domain-uid"] == platform.require("businessdomain", d)["metadata"]["uid"]

    platform.delete("businessdomain", d, wait=False)
    wait_until(lambda: platform.get("businessdomain", d) is None, timeout=90, what=f"domain {d} deleted")
    platform.apply(domain_doc(d, owners=[{"kind": "User", "name": new_owner}]))
    uid = platform.require("businessdomain", d)["metadata"]["uid"]

    def fresh() -> dict[str, Any] | None:
        meta = (platform.get("namespace", ns) or {}).get("metadata") or {}
        return meta if meta.get("uid") not in (None, old["uid"]) and not meta.get("deletionTimestamp") else None

    new = wait_until(fresh, timeout=90, what="a new host namespace")
    assert new["labels"]["bizdomain.io/domain-uid"] == uid
    platform.wait_host_namespace(d)
    platform.wait_domain_ready(d)
    owners = wait_until(lambda: platform.get("rolebinding", "bizdomain.io:owners", ns), timeout=30, what="owners")
    assert [s["name"] for s in owners["subjects"]] == [new_owner]
    assert json.loads(host.kubectl("get", "environmentbindings", "-n", ns, "-o", "json").stdout)["items"] == []
    for user, allowed in ((old_owner, "no"), (new_owner, "yes")):
        can_i = ("auth", "can-i", "create", "environmentbindings.bizdomain.io", "-n", ns)
        result = host.kubectl(*can_i, as_user=user, check=False)
        assert result.stdout.strip() == allowed, f"{user}: {result.stdout}"
