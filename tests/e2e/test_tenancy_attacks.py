"""The tenancy review's attacks, end to end: a domain owner (`kubectl --as` its owner on the host)
tries to delete protected namespaces, take over another domain's namespace and keep revoked rights
behind a frozen binding.

Each test asserts that the victim's namespaces keep their uid, owner and a ConfigMap put in them,
that what every department may do per environment is unchanged (`kubectl auth can-i` on the
members), and that the attacker gets a clear status that never names another domain. The live run
of the property generator is in test_tenancy_live_property.py; a domain's name and uid (a host
rebuilt from Git, a name given to a new team) in test_tenancy_reuse.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support import wait_until
from support.platform import MakeDomain, Platform, domain_doc

from .tenancy import (
    ENVIRONMENT,
    MANAGED_BY,
    PROTECTED,
    RELEASED,
    as_owner,
    barrier,
    events,
    listed,
    message,
    owner_delete,
    owner_patch,
    rights,
    snapshot,
    stash,
    subjects,
)
from .test_domain_lifecycle import can_i

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


# --- class 1: protected namespaces ----------------------------------------------------------------


def test_an_owner_cannot_move_its_dev_binding_onto_prod_nor_delete_prod_namespaces(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    make_domain(d)
    prod = stash(platform, "prod", d)
    prod_rights = rights(platform, d, "prod", d)
    assert not prod_rights["backend create deployments"]
    assert prod_rights["backend get deployments"]

    def prod_unchanged(pass_no: int) -> None:
        barrier(platform, d, "prod", 30 + pass_no)  # a prod pass after the attack
        assert listed(platform, "prod", "namespaces,rolebindings", f"bizdomain.io/domain={d},{ENVIRONMENT}=dev") == []
        assert snapshot(platform, "prod", d) == prod
        assert rights(platform, d, "prod", d) == prod_rights

    # 1. The dev binding names the prod cluster, with Delete.
    owner_patch(platform, d, "dev", {"spec": {"clusters": {"names": ["prod"]}, "deletionPolicy": "Delete"}})
    binding = platform.wait_reason(d, "dev", "ClusterNotInEnvironment")
    said = message(binding, platform)
    assert "MemberCluster prod does not serve environment 'dev'" in said, said
    assert "only ever places its domain on members of its own environment" in said
    prod_unchanged(1)

    # 2. A selector matching the prod cluster's labels instead.
    selector = {"matchLabels": {ENVIRONMENT: "prod"}}
    owner_patch(platform, d, "dev", {"spec": {"clusters": {"names": None, "selector": selector}}})
    binding = platform.wait_ready_condition("environmentbinding", "dev", f"domain-{d}", status="False")
    assert platform.condition(binding)["reason"] in ("NoClusters", "ClusterNotInEnvironment"), binding["status"]
    assert binding["status"]["summary"]["clusters"] == "0/0", "nothing placed anywhere"
    prod_unchanged(2)

    # 3. Both clusters by name: it lands on dev (its own environment) and never on prod.
    owner_patch(platform, d, "dev", {"spec": {"clusters": {"selector": None, "names": ["dev", "prod"]}}})
    binding = platform.wait_reason(d, "dev", "ClusterNotInEnvironment")
    assert [c["cluster"] for c in binding["status"]["clusters"]] == ["dev"], binding["status"]

    def managed_again() -> bool:
        ns = platform.get("namespace", d, cluster="dev") or {"metadata": {}}
        return MANAGED_BY in (ns["metadata"].get("labels") or {})

    wait_until(
        managed_again,
        timeout=30,
        what="the dev namespace managed by the dev binding again",
    )
    prod_unchanged(3)

    # 4. The owner deletes the prod binding: prod namespaces are released, never deleted.
    owner_delete(platform, d, "prod")
    labels = platform.require("namespace", d, cluster="prod")["metadata"]["labels"]
    assert labels[RELEASED] == "true"
    assert labels[PROTECTED] == "true"
    assert MANAGED_BY not in labels
    assert snapshot(platform, "prod", d) == prod
    assert not can_i(platform, "prod", "create", "deployments.apps", d, "bob", f"{d}-backend")

    # 5. Then the dev binding (policy Delete, naming prod too): its dev namespace goes, prod stays.
    owner_delete(platform, d, "dev")
    wait_until(lambda: platform.get("namespace", d, cluster="dev") is None, timeout=60, what="dev namespace deleted")
    assert snapshot(platform, "prod", d) == prod
    assert platform.require("namespace", d, cluster="prod")["metadata"]["labels"][PROTECTED] == "true"


# --- class 2: another domain's namespace taken over -----------------------------------------------


def attacker_view(platform: Platform, attacker: str, namespace: str) -> dict[str, bool]:
    """The attacker's departments' rights in ``namespace`` (the deployer of binding_doc is shared)."""
    return {k: v for k, v in rights(platform, attacker, "dev", namespace).items() if not k.startswith("deployer")}


def test_an_older_domain_cannot_take_over_a_younger_domains_namespace_by_template(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    attacker, victim = f"{unique_name}a", f"{unique_name}v"
    api = [{"name": "api"}]
    template = {"namespaceTemplate": "{domain}-{project}"}
    make_domain(attacker, envs=("dev",), projects=api, bindings={"dev": template})
    make_domain(victim, envs=("dev",), projects=api, bindings={"dev": {**template, "deletionPolicy": "Delete"}})
    target = f"{victim}-api"
    before = stash(platform, "dev", target)
    bindings_before = subjects(platform, "dev", target)
    victim_rights = rights(platform, victim, "dev", target)
    attacker_rights = attacker_view(platform, attacker, target)
    assert victim_rights["backend create deployments"]
    assert not any(attacker_rights.values()), attacker_rights

    def victim_unchanged() -> None:
        assert snapshot(platform, "dev", target) == before
        assert subjects(platform, "dev", target) == bindings_before
        assert rights(platform, victim, "dev", target) == victim_rights
        assert attacker_view(platform, attacker, target) == attacker_rights
        platform.wait_binding(victim, "dev")

    # The owner writes the victim's name into its template: refused at admission.
    literal = {"spec": {"namespaceTemplate": f"{victim}-{{project}}", "deletionPolicy": "Delete"}}
    args = ("patch", "environmentbinding", "dev", "-n", f"domain-{attacker}", "--type=merge", "-p")
    refused = as_owner(platform, attacker, *args, json.dumps(literal), check=False)
    assert refused.returncode != 0, refused.stdout
    assert "may only join {domain}, {project} and {environment}" in refused.stderr, refused.stderr
    victim_unchanged()
    # Names the platform chose can still meet (the attacker's domain was given a project named like
    # the victim's namespace): the owner aims its bare {project} template at it, policy Delete.
    platform.host.kubectl(
        "patch", "businessdomain", attacker, "--type=merge", "-p",
        json.dumps({"spec": {"projects": [{"name": target}]}}),
    )  # fmt: skip
    owner_patch(platform, attacker, "dev", {"spec": {"namespaceTemplate": "{project}", "deletionPolicy": "Delete"}})
    binding = platform.wait_reason(attacker, "dev", "NamespaceConflict")
    said = message(binding, platform)
    assert f"'{target}'" in said, said
    assert "was not created by bizdomain for this domain and environment" in said
    assert victim not in said.replace(f"'{target}'", ""), f"the status names the victim: {said}"
    status = json.dumps(binding["status"]).replace(target, "")
    assert victim not in status, f"the status names the victim: {status}"
    for event in events(platform, f"domain-{attacker}"):
        assert victim not in event.replace(target, ""), f"an Event names the victim: {event}"
    victim_unchanged()

    owner_delete(platform, attacker, "dev")
    victim_unchanged()


# --- class 3: a frozen binding keeps revoked rights -----------------------------------------------


def _departments(d: str, *, bob: bool = True, backend: bool = True) -> list[dict[str, Any]]:
    backend_members = [{"kind": "Group", "name": f"{d}-backend"}]
    if bob:
        backend_members.append({"kind": "User", "name": "bob@example.com"})
    out = [
        {"name": "sre", "members": [{"kind": "Group", "name": f"{d}-sre"}]},
        {"name": "qa", "members": [{"kind": "Group", "name": f"{d}-qa"}]},
    ]
    return ([{"name": "backend", "members": backend_members}] if backend else []) + out


def test_a_frozen_binding_still_revokes_and_corrects_and_grants_nothing(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d, dev = unique_name, platform.member("dev")
    make_domain(d, envs=("dev",), departments=_departments(d), networkIsolation=True)
    before = stash(platform, "dev", d)
    sre_binding = "bizdomain.io:department:sre:admin"

    def bob_can() -> bool:
        return can_i(platform, "dev", "create", "deployments.apps", d, "bob@example.com")

    assert bob_can()
    assert not rights(platform, d, "dev", d)["qa get pods"]
    assert platform.get("networkpolicy", "bizdomain-isolation", d, cluster="dev") is not None

    # The owner freezes its binding (an unknown department), granting qa admin and raising the
    # quota in the same edit.
    access = [
        {"department": "backend", "role": "developer"},
        {"department": "sre", "role": "admin"},
        {"department": "qa", "role": "admin"},
        {"department": "ghosts", "role": "admin"},
    ]
    owner_patch(platform, d, "dev", {"spec": {"access": access, "quota": {"pods": "999"}}})
    binding = platform.wait_reason(d, "dev", "UnknownDepartment")
    assert "ghosts" in message(binding, platform), message(binding, platform)

    # While it is frozen: the platform removes bob from backend, a member admin adds a subject by
    # hand, and the domain's own sre admin deletes the isolation policy.
    platform.apply(domain_doc(d, departments=_departments(d, bob=False), networkIsolation=True))
    extra = {"kind": "User", "name": "mallory@example.com", "apiGroup": "rbac.authorization.k8s.io"}
    dev.kubectl(
        "patch", "rolebinding", sre_binding, "-n", d, "--type=json",
        "-p", json.dumps([{"op": "add", "path": "/subjects/-", "value": extra}]),
    )  # fmt: skip
    dev.kubectl("delete", "networkpolicy", "bizdomain-isolation", "-n", d, as_user="sam", as_groups=(f"{d}-sre",))

    wait_until(lambda: not bob_can(), timeout=30, what="bob's rights revoked while frozen")
    wait_until(
        lambda: "mallory@example.com" not in json.dumps(subjects(platform, "dev", d).get(sre_binding)),
        timeout=30,
        what="the hand-added subject removed while frozen",
    )
    assert not can_i(platform, "dev", "delete", "secrets", d, "mallory@example.com")
    wait_until(
        lambda: platform.get("networkpolicy", "bizdomain-isolation", d, cluster="dev"),
        timeout=30,
        what="the deleted isolation policy restored while frozen",
    )
    # and opened to every peer by sre: closed again
    dev.kubectl(
        "patch", "networkpolicy", "bizdomain-isolation", "-n", d, "--type=merge", "-p", '{"spec":{"ingress":[{}]}}',
        as_user="sam", as_groups=(f"{d}-sre",),
    )  # fmt: skip
    wait_until(
        lambda: (
            platform.require("networkpolicy", "bizdomain-isolation", d, cluster="dev")["spec"].get("ingress") != [{}]
        ),
        timeout=30,
        what="the widened isolation policy corrected while frozen",
    )
    quota = platform.require("resourcequota", "bizdomain-quota", d, cluster="dev")
    assert quota["spec"]["hard"]["pods"] == "20", "a frozen binding raised the quota"
    now = rights(platform, d, "dev", d)
    assert not now["qa get pods"], "a frozen binding granted qa admin"
    assert "bizdomain.io:department:qa:admin" not in subjects(platform, "dev", d)
    assert now["backend create deployments"], "backend's valid grant is kept"
    assert now["sre delete secrets"]
    assert platform.condition(platform.get("environmentbinding", "dev", f"domain-{d}"))["reason"] == "UnknownDepartment"

    # The platform removes the whole backend department: its group loses its rights at once.
    platform.apply(domain_doc(d, departments=_departments(d, bob=False, backend=False), networkIsolation=True))
    wait_until(
        lambda: not can_i(platform, "dev", "get", "deployments.apps", d, "bob", f"{d}-backend"),
        timeout=30,
        what="the removed department's rights revoked while frozen",
    )
    assert not rights(platform, d, "dev", d)["qa get pods"]
    assert snapshot(platform, "dev", d) == before


# --- the owner's reach on the host ------------------------------------------------------------------


def test_an_owner_writes_only_its_own_bindings(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    """Every write outside its own bindings' specs is refused by the host API server, by name."""
    attacker, victim = f"{unique_name}a", f"{unique_name}v"
    make_domain(attacker, envs=("dev",))
    make_domain(victim, envs=("dev",))
    theirs = platform.require("environmentbinding", "dev", f"domain-{victim}")["metadata"]
    grab = json.dumps({"spec": {"access": [{"department": "backend", "role": "admin"}]}})
    adopt = f"bizdomain.io/adopt-uids={platform.require('businessdomain', victim)['metadata']['uid']}"  # theirs
    status = json.dumps({"status": {"conditions": []}})
    victim_ns = f"domain-{victim}"
    for attempt in (
        ("patch", "environmentbinding", "dev", "-n", f"domain-{victim}", "--type=merge", "-p", grab),
        ("delete", "environmentbinding", "dev", "-n", f"domain-{victim}", "--wait=false"),
        ("create", "rolebinding", "me", "--clusterrole=bizdomain.io:domain-owner", "--user=me", "-n", victim_ns),
        ("create", "rolebinding", "me", "--clusterrole=admin", "--user=me", "-n", f"domain-{attacker}"),
        ("annotate", "businessdomain", attacker, adopt),
        ("patch", "businessdomain", attacker, "--type=merge", "-p", json.dumps({"spec": {"owners": []}})),
        ("patch", "environmentbinding", "dev", "-n", f"domain-{attacker}", "--subresource=status",
         "--type=merge", "-p", status),
        ("label", "namespace", f"domain-{attacker}", "bizdomain.io/domain-uid-"),
    ):  # fmt: skip
        refused = as_owner(platform, attacker, *attempt, check=False)
        assert refused.returncode != 0, f"{attempt} was allowed: {refused.stdout}"
        assert "forbidden" in refused.stderr.lower(), refused.stderr
        assert f'User "{attacker}-owner@example.com" cannot' in refused.stderr, refused.stderr
    after = platform.require("environmentbinding", "dev", f"domain-{victim}")["metadata"]
    assert (after["uid"], after["generation"], after.get("deletionTimestamp")) == (
        theirs["uid"],
        theirs["generation"],
        None,
    )
    platform.wait_binding(victim, "dev")
