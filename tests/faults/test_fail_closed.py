"""Fail-closed pruning: when the operator cannot see a member whole, it deletes nothing there.

1. Listing fails for real: the member ClusterRole `bizdomain.io:operator` that `bizdomain join`
   made on dev loses `list` on rolebindings. A prune-triggering change is then made on the host
   (an access entry removed in both environments, another domain's dev binding deleted).
   Pass criteria: while listing fails nothing on dev is deleted or recreated (same uids after
   several failed passes), dev's status entry says why, the other binding's deletion is held
   (DeletionBlocked), and prod is pruned normally; once RBAC is restored the prune happens on
   dev, by policy, and everything else there is the very same object as before.
2. The member API server is frozen (SIGSTOP) during a prune-triggering change (a project
   removed under a Delete policy). Pass criteria: prod follows meanwhile, dev is reported
   unreachable; after resume dev prunes exactly the removed project and loses nothing else
   (every other object keeps its uid).
"""

from __future__ import annotations

import copy
import json

import pytest

from support import ClusterHandle, wait_until
from support.platform import MakeDomain, Platform, binding_doc, domain_doc

from .conftest import Faults
from .probes import (
    JSON,
    Stopwatch,
    binding,
    cluster_entry,
    converged,
    difference,
    domain_converged,
    expected_tenant,
    footprint,
    metric,
    report,
    uids,
    wait_metric,
)

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

OPERATOR_ROLE = "bizdomain.io:operator"
BACKEND_ONLY = [{"department": "backend", "role": "developer"}]


def role_rules(member: ClusterHandle) -> list[JSON]:
    role = json.loads(member.kubectl("get", "clusterrole", OPERATOR_ROLE, "-o", "json").stdout)
    rules: list[JSON] = role["rules"]
    return rules


def set_role_rules(member: ClusterHandle, rules: list[JSON]) -> None:
    role = json.loads(member.kubectl("get", "clusterrole", OPERATOR_ROLE, "-o", "json").stdout)
    role["rules"] = rules
    member.kubectl("replace", "-f", "-", input=json.dumps(role))


def without_list_on_rolebindings(rules: list[JSON]) -> list[JSON]:
    out = copy.deepcopy(rules)
    for rule in out:
        if "rolebindings" in rule.get("resources", []):
            rule["verbs"] = [v for v in rule["verbs"] if v != "list"]
    return out


def dev_errors(platform: Platform) -> float:
    return metric(platform, "bizdomain_reconciles_total", cluster="dev", outcome="error")


def test_failed_list_prunes_nothing_until_it_works(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    name, gone = unique_name, f"{unique_name}-gone"
    make_domain(name)
    make_domain(gone, envs=("dev",))
    dev = platform.member("dev")
    before = uids(footprint(dev, [name, gone]))
    original = role_rules(dev)
    faults.undo("restore the operator's ClusterRole on dev", lambda: set_role_rules(dev, original))

    broken = Stopwatch()
    set_role_rules(dev, without_list_on_rolebindings(original))

    def dev_fails() -> bool:
        entry = cluster_entry(binding(platform, name, "dev"), "dev")
        return entry.get("reason") == "SyncFailed" and "nothing applied or pruned" in entry.get("message", "")

    wait_until(dev_fails, timeout=30, interval=0.25, what="dev's entry reports the failed listing")
    detected = broken()

    errors = dev_errors(platform)
    changed = Stopwatch()
    platform.apply(binding_doc(name, "dev", access=BACKEND_ONLY), binding_doc(name, "prod", access=BACKEND_ONLY))
    platform.delete("environmentbinding", "dev", f"domain-{gone}", wait=False)

    wait_until(lambda: converged(platform, name, "prod"), timeout=30, what="prod converged on the change")
    prod_pruned = changed()
    prod_left = footprint(platform.member("prod"), [name])
    assert not difference(prod_left, expected_tenant(name, "prod", access=[("backend", "developer")]))
    wait_metric(platform, "bizdomain_reconciles_total", errors + 2, timeout=30, cluster="dev", outcome="error")
    held = changed()

    assert uids(footprint(dev, [name, gone])) == before, "something was deleted or recreated on dev"
    entry = cluster_entry(binding(platform, name, "dev"), "dev")
    assert entry["ready"] is False
    assert entry["reason"] == "SyncFailed"
    assert "rolebindings" in entry["message"]
    assert "nothing applied or pruned" in entry["message"]
    held_binding = binding(platform, gone, "dev")
    assert held_binding is not None, "the binding's deletion was not held while dev could not be cleaned"
    assert held_binding["metadata"].get("deletionTimestamp")

    def deletion_blocked() -> bool:
        """The README's promise: the handler's retries say DeletionBlocked (kopf's progress annotation)."""
        obj = binding(platform, gone, "dev") or {}
        progress = (obj.get("metadata", {}).get("annotations") or {}).get("kopf.bizdomain.io/on_binding_delete", "{}")
        return "DeletionBlocked" in json.loads(progress).get("message", "")

    wait_until(deletion_blocked, timeout=15, interval=0.5, what="the binding's deletion held with DeletionBlocked")

    set_role_rules(dev, original)
    restored = Stopwatch()
    wait_until(lambda: converged(platform, name, "dev"), timeout=30, what="dev converged once RBAC is back")
    wait_until(lambda: binding(platform, gone, "dev") is None, timeout=30, what="the held binding released")
    pruned_after_restore = restored()

    live = footprint(dev, [name, gone])
    problem = difference(live, expected_tenant(name, "dev", access=[("backend", "developer")]))
    assert not problem, f"dev after RBAC was restored: {problem}"
    assert all(before[k] == uid for k, uid in uids(live).items()), "an object was recreated on dev"
    released = platform.require("namespace", gone, cluster="dev")
    assert released["metadata"]["uid"] == before[("Namespace", None, gone)]
    assert released["metadata"]["labels"].get("bizdomain.io/released") == "true"
    report(
        "list_fails_on_member",
        failure_reported_s=detected,
        prod_pruned_s=prod_pruned,
        dev_held_s=held,
        dev_pruned_after_rbac_restored_s=pruned_after_restore,
    )


def test_paused_member_loses_nothing(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    name, batch = unique_name, f"{unique_name}-batch"
    make_domain(name, projects=[{"name": name}, {"name": batch}], deletionPolicy="Delete")
    dev = platform.member("dev")
    before = uids(footprint(dev, [name]))

    faults.pause_apiserver("dev")
    paused = Stopwatch()
    platform.apply(domain_doc(name, projects=[{"name": name}], deletionPolicy="Delete"))

    def prod_follows() -> bool:
        exact = not difference(footprint(platform.member("prod"), [name]), expected_tenant(name, "prod", [name]))
        retained = platform.get("namespace", batch, cluster="prod")  # prod is protected: Delete acts as Retain
        return exact and retained is not None and retained["metadata"]["labels"].get("bizdomain.io/released") == "true"

    wait_until(prod_follows, timeout=30, interval=0.25, what="prod pruned (released) the project while dev is frozen")
    prod_followed = paused()

    def dev_unreachable() -> bool:
        return cluster_entry(binding(platform, name, "dev"), "dev").get("reason") == "ClusterUnreachable"

    wait_until(dev_unreachable, timeout=45, interval=0.25, what="dev reported unreachable while frozen")
    reported = paused()
    faults.resume_apiserver("dev")
    frozen_for = paused()

    resumed = Stopwatch()

    def dev_follows() -> bool:
        exact = not difference(footprint(dev, [name]), expected_tenant(name, "dev", [name]))
        return exact and platform.get("namespace", batch, cluster="dev") is None  # Delete policy: deleted

    wait_until(dev_follows, timeout=60, interval=0.25, what="dev pruned the project (deleted) after resume")
    converged_after = resumed()
    wait_until(lambda: domain_converged(platform, name), timeout=30, what="the domain Ready")
    live = footprint(dev, [name])
    problem = difference(live, expected_tenant(name, "dev", [name]))
    assert not problem, f"dev after resume: {problem}"
    assert all(before[k] == uid for k, uid in uids(live).items()), "an object was lost and recreated on dev"
    report(
        "member_paused",
        prod_followed_s=prod_followed,
        dev_reported_unreachable_s=reported,
        frozen_s=frozen_for,
        dev_converged_after_resume_s=converged_after,
    )
