"""A member's API server is killed in the middle of a reconcile and started again later.

Pass criteria: within one re-sync only that member's entries go failing with ClusterUnreachable
(the binding's `status.clusters[]` entry and the MemberCluster's Ready condition); the other
member converges meanwhile, also on a change made while the member is down; after the member
returns it holds exactly the desired set (compared by name: nothing missing, nothing extra).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes import client, watch

from support import wait_until
from support.platform import MakeDomain, Platform, domain_doc

from .conftest import Faults
from .probes import (
    RESYNC_SECONDS,
    Stopwatch,
    binding,
    cluster_entry,
    converged,
    difference,
    domain_converged,
    expected_tenant,
    footprint,
    member_ready,
    quotas,
    report,
)

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

NEW_PROJECTS = 8  # each a namespace with 2 RoleBindings, the deployers', a quota and limits
REPORT_WITHIN = RESYNC_SECONDS + 2  # one re-sync, plus the status writer's debounce and our polling


def kill_on_first_new_namespace(platform: Platform, faults: Faults, name: str, spec: dict[str, Any]) -> None:
    """Apply ``spec`` to the domain and SIGKILL dev's API server as soon as the operator has
    created the first new namespace there: the rest of that reconcile is cut off."""
    dev = platform.member("dev")
    api = dev.api_client()
    try:
        core = client.CoreV1Api(api)
        selector = f"bizdomain.io/domain={name}"
        listed = core.list_namespace(label_selector=selector)
        assert listed.metadata is not None
        since = listed.metadata.resource_version
        events = watch.Watch().stream(
            core.list_namespace, label_selector=selector, resource_version=since, timeout_seconds=30
        )
        applier = threading.Thread(target=platform.apply, args=(domain_doc(name, **spec),))
        applier.start()
        try:
            for event in events:
                if event["type"] == "ADDED" and event["object"].metadata.name != name:
                    faults.stop_apiserver("dev")
                    break
            else:
                raise AssertionError("the operator created no new namespace on dev within 30s")
        finally:
            events.close()
            applier.join()
    finally:
        api.close()


def test_member_killed_mid_reconcile_is_isolated_and_heals(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    name = unique_name
    make_domain(name)
    projects = [name, *(f"{name}-p{i}" for i in range(NEW_PROJECTS))]
    spec = {"projects": [{"name": p} for p in projects]}

    kill_on_first_new_namespace(platform, faults, name, spec)
    down = Stopwatch()

    # Only dev's entries fail, with the reason, within one re-sync.
    def dev_reported() -> bool:
        entry = cluster_entry(binding(platform, name, "dev"), "dev")
        cond = member_ready(platform, "dev")
        return (
            entry.get("reason") == "ClusterUnreachable"
            and entry.get("ready") is False
            and cond.get("status") == "False"
            and cond.get("reason") == "ClusterUnreachable"
        )

    wait_until(dev_reported, timeout=30, interval=0.2, what="dev reported ClusterUnreachable")
    reported = down()
    assert reported <= REPORT_WITHIN, f"dev was reported unreachable after {reported}s (> {REPORT_WITHIN}s)"
    assert member_ready(platform, "prod").get("status") == "True"

    # prod converges on the change that was cut off on dev, and on one made while dev is down.
    def holds(member: str, pods: str) -> bool:
        cluster = platform.member(member)
        exact = not difference(footprint(cluster, [name]), expected_tenant(name, member, projects))
        return exact and all(quotas(cluster, name).get(ns, {}).get("pods") == pods for ns in projects)

    wait_until(lambda: holds("prod", "20"), timeout=60, what="prod holds the 9 projects")
    changed = Stopwatch()
    platform.apply(domain_doc(name, quota={"requests.cpu": "4", "pods": "13"}, **spec))
    wait_until(lambda: holds("prod", "13"), timeout=60, interval=0.25, what="prod follows the quota change")
    prod_follows = changed()
    wait_until(lambda: converged(platform, name, "prod"), timeout=30, what="prod's binding Ready")
    dev_binding = binding(platform, name, "dev")
    assert platform.condition(dev_binding)["status"] == "False"
    assert cluster_entry(dev_binding, "dev")["reason"] == "ClusterUnreachable"
    assert cluster_entry(binding(platform, name, "prod"), "prod")["ready"] is True
    domain = platform.get("businessdomain", name)
    assert platform.condition(domain)["status"] == "False"
    assert "dev" in platform.condition(domain)["message"]

    outage = down()
    faults.start_apiserver("dev")
    back = Stopwatch()
    wait_until(lambda: holds("dev", "13"), timeout=60, interval=0.25, what="dev holds the desired set after return")
    dev_converged = back()
    wait_until(lambda: domain_converged(platform, name), timeout=30, what="the domain Ready again")
    assert member_ready(platform, "dev").get("status") == "True"
    live = footprint(platform.member("dev"), [name])
    problem = difference(live, expected_tenant(name, "dev", projects))
    assert not problem, f"dev after its return: {problem}"
    report(
        "member_killed_mid_reconcile",
        reported_unreachable_s=reported,
        prod_followed_change_while_dev_down_s=prod_follows,
        dev_outage_s=outage,
        dev_converged_after_return_s=dev_converged,
        objects_on_dev=len(live),
    )
