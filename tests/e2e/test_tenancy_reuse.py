"""A domain's name and uid, end to end: a host rebuilt from Git takes its members back only by a
platform action (the `bizdomain.io/adopt-uids` annotation on the BusinessDomain, which a domain
owner cannot set), with zero namespaces recreated or deleted; a domain name given to a new team
inherits nothing of the old team's.

As in test_tenancy_attacks.py: the victim's namespaces keep their uid, owner and a ConfigMap put
in them, what each department may do is unchanged (`kubectl auth can-i` on the members), and the
newcomer gets a conflict status.
"""

from __future__ import annotations

import json

import pytest

from faults.probes import metric
from support import wait_until
from support.platform import MEMBERS, MakeDomain, Platform, binding_doc, domain_doc

from .tenancy import OWNER_GROUPS, RELEASED, as_owner, listed, message, rights, snapshot, stash, subjects
from .test_domain_lifecycle import can_i

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

ADOPT = "bizdomain.io/adopt-uids"
OBJECTS = "rolebindings,resourcequotas,limitranges,workspaces"


# --- host disaster recovery -------------------------------------------------------------------------


def _strip_and_delete(platform: Platform, kind: str, name: str, namespace: str | None = None) -> None:
    """As a host rebuilt from Git would: the object gone, whatever finalizer it held."""
    where = ["-n", namespace] if namespace else []
    patch = json.dumps({"metadata": {"finalizers": None}})
    platform.host.kubectl("patch", kind, name, *where, "--type=merge", "-p", patch)
    platform.host.kubectl("delete", kind, name, *where, "--wait=false", "--ignore-not-found")


def passes(platform: Platform, cluster: str) -> float:
    """Successful passes on ``cluster`` since the operator started (0 while its metrics are not up)."""
    try:
        return metric(platform, "bizdomain_reconciles_total", cluster=cluster, outcome="success")
    except OSError:
        return 0.0


def test_a_host_rebuilt_from_git_takes_back_every_namespace_by_the_adopt_annotation(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    docs = [domain_doc(d), binding_doc(d, "dev", deletionPolicy="Delete"), binding_doc(d, "prod")]
    make_domain(d, bindings={"dev": {"deletionPolicy": "Delete"}})
    old_uid = platform.require("businessdomain", d)["metadata"]["uid"]
    before = {m: stash(platform, m, d) for m in MEMBERS}
    rights_before = {m: rights(platform, d, m, d) for m in MEMBERS}
    assert all(snap["owner"] == (old_uid, m) for m, snap in before.items())
    selector = f"bizdomain.io/domain={d}"
    objects_before = {m: {o["metadata"]["uid"] for o in listed(platform, m, OBJECTS, selector)} for m in MEMBERS}

    # The host is lost while the members run on: its objects go, finalizers and all.
    platform.operator.stop()
    try:
        for env in ("dev", "prod"):
            _strip_and_delete(platform, "environmentbinding", env, f"domain-{d}")
        _strip_and_delete(platform, "businessdomain", d)
        platform.host.kubectl("delete", "namespace", f"domain-{d}", "--timeout=60s")
        wait_until(lambda: platform.get("businessdomain", d) is None, timeout=30, what="the domain gone")
    finally:
        platform.operator.start()
    # The operator runs before the YAML is applied again: two full passes on each member, which
    # know no domain of that name (objects of an unknown domain uid are never pruned).
    for m in MEMBERS:

        def two_passes(member: str = m) -> bool:
            return passes(platform, member) >= 2

        wait_until(two_passes, timeout=60, what=f"two passes on {m} after the restart")
        assert snapshot(platform, m, d) == before[m], f"{m}: touched while the host knew no such domain"

    # Rebuilt from the same YAML: same names, new uids. Every binding is a conflict; nothing moves.
    platform.apply(docs[0])
    platform.wait_host_namespace(d)
    platform.apply(*docs[1:])
    new_uid = platform.require("businessdomain", d)["metadata"]["uid"]
    assert new_uid != old_uid
    for env in ("dev", "prod"):
        binding = platform.wait_reason(d, env, "NamespaceConflict")
        said = message(binding, platform)
        assert f"namespace '{d}' on cluster '{env}' already exists and was not created by bizdomain" in said, said
    for m in MEMBERS:
        assert snapshot(platform, m, d) == before[m], f"{m}: touched while in conflict"
        assert rights(platform, d, m, d) == rights_before[m]
        names = [ns["metadata"]["name"] for ns in listed(platform, m, "namespaces", selector)]
        assert names == [d], f"{m}: a namespace was created: {names}"

    # Only a platform admin can say so: the owner cannot annotate the domain.
    refused = as_owner(platform, d, "annotate", "businessdomain", d, f"{ADOPT}={old_uid}", check=False)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower(), refused.stderr
    # The platform action: the domain adopts its old uid. Everything is taken back in place.
    platform.host.kubectl("annotate", "businessdomain", d, f"{ADOPT}={old_uid}")
    for env in ("dev", "prod"):
        platform.wait_binding(d, env)
    platform.wait_domain_bound(d, ("dev", "prod"))
    for m in MEMBERS:
        now = snapshot(platform, m, d)
        assert now == {**before[m], "owner": (new_uid, m)}, f"{m}: not taken back in place"
        assert rights(platform, d, m, d) == rights_before[m]
        objects = {o["metadata"]["uid"] for o in listed(platform, m, OBJECTS, selector)}
        assert objects_before[m] <= objects, f"{m}: objects recreated: {objects_before[m] - objects}"
    # and it is the domain's again: the owner's edits apply (as_owner: the new host namespace's RBAC).
    assert as_owner(platform, d, "get", "environmentbinding", "dev", "-n", f"domain-{d}").returncode == 0


# --- a domain name given to a new team -------------------------------------------------------------


def test_a_domain_name_given_to_a_new_team_does_not_inherit_the_old_teams_namespaces(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d, newcomer = unique_name, "new-team@example.com"
    make_domain(d, envs=("dev",))
    old_uid = platform.require("businessdomain", d)["metadata"]["uid"]
    old_host = platform.require("namespace", f"domain-{d}")["metadata"]["uid"]
    platform.delete("businessdomain", d, wait=False)
    wait_until(lambda: platform.get("businessdomain", d) is None, timeout=90, what=f"domain {d} deleted")
    before = stash(platform, "dev", d)  # released under Retain, with the old team's data in it
    assert platform.require("namespace", d, cluster="dev")["metadata"]["labels"][RELEASED] == "true"

    # The same name, another team: its owner binds dev (the same namespace name).
    team = [{"name": "backend", "members": [{"kind": "Group", "name": f"{d}-newcomers"}]}]
    platform.apply(domain_doc(d, owners=[{"kind": "User", "name": newcomer}], departments=team))
    wait_until(
        lambda: (
            ((platform.get("namespace", f"domain-{d}") or {}).get("metadata") or {}).get("uid") not in (None, old_host)
        ),
        timeout=90,
        what="the new team's host namespace",
    )
    platform.wait_host_namespace(d)
    access = [{"department": "backend", "role": "admin"}]
    doc = binding_doc(d, "dev", access=access)
    platform.host.kubectl("apply", "-f", "-", input=json.dumps(doc), as_user=newcomer, as_groups=OWNER_GROUPS)
    binding = platform.wait_reason(d, "dev", "NamespaceConflict")
    said = message(binding, platform)
    assert f"namespace '{d}' on cluster 'dev' already exists and was not created by bizdomain" in said, said
    assert old_uid not in json.dumps(binding["status"])

    assert snapshot(platform, "dev", d) == before
    assert platform.require("namespace", d, cluster="dev")["metadata"]["labels"][RELEASED] == "true"
    for verb, resource in (("get", "configmaps"), ("get", "secrets"), ("list", "pods")):
        assert not can_i(platform, "dev", verb, resource, d, "nina", f"{d}-newcomers"), f"{verb} {resource}"
    assert subjects(platform, "dev", d) == {}, "no RoleBinding in the old team's namespace"
    refused = platform.host.kubectl(
        "annotate", "businessdomain", d, f"{ADOPT}={old_uid}", as_user=newcomer, as_groups=OWNER_GROUPS, check=False
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower(), refused.stderr
