"""Budgets, attacked: a department admin on a member cannot touch the quota and limits that hold a
namespace to its share of the domain's budget, nor the usage the operator folds back from the
quota's status (the `admin` role the platform aggregates reads them, never writes); and a domain
owner cannot multiply its budget by releasing namespaces (renaming them, removing them) that keep
their quota and their workloads: what they keep is counted until a platform admin deletes them.
"""

from __future__ import annotations

from typing import Any

import pytest

from support import wait_until
from support.platform import MakeDomain, Platform, domain_doc

from .budgets import budget_of, create_pod, member_state, quota_hard
from .tenancy import owner_patch

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

BUDGET = [{"environment": "dev", "hard": {"requests.cpu": "8", "pods": "40"}}]


def test_a_department_admin_cannot_touch_the_quota_the_limits_or_the_usage(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    make_domain(d, envs=("dev",), budgets=BUDGET, limits={"default": {"cpu": "500m"}, "max": {"cpu": "2"}})
    dev = platform.member("dev")
    user, groups = f"{d}-sre-alice", [f"{d}-sre"]  # sre is admin in dev
    can_i = dev.kubectl("auth", "can-i", "create", "deployments", "-n", d, check=False, as_user=user, as_groups=groups)
    assert can_i.stdout.strip() == "yes"
    objects = (("resourcequota", "bizdomain-quota"), ("limitrange", "bizdomain-limits"))
    before = {k: platform.require(k, n, d, cluster="dev") for k, n in objects}
    for verb, resource, extra in [
        ("delete", "resourcequotas", ()),
        ("patch", "resourcequotas", ()),
        ("create", "resourcequotas", ()),
        ("patch", "resourcequotas", ("--subresource=status",)),  # usage folded back must not be forgeable
        ("delete", "limitranges", ()),
        ("patch", "limitranges", ()),
        ("create", "limitranges", ()),
        ("create", "priorityclasses", ()),
    ]:
        answer = dev.kubectl(
            "auth", "can-i", verb, resource, *extra, "-n", d, check=False, as_user=user, as_groups=groups
        ).stdout.strip()
        assert answer == "no", f"{verb} {resource} {extra}: {answer}"
    refused = dev.kubectl(
        "delete", "resourcequota", "bizdomain-quota", "-n", d, check=False, as_user=user, as_groups=groups
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower(), refused.stderr
    for kind, obj in before.items():
        now = platform.require(kind, obj["metadata"]["name"], d, cluster="dev")
        assert now["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], kind


# --- a domain owner renames, releases and repeats: what released namespaces keep is the domain's ------


def test_a_rename_under_retain_cannot_hold_the_budget_twice(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    full = {"requests.cpu": "2", "pods": "4"}
    make_domain(d, envs=("dev",), quota=full, budgets=[{"environment": "dev", "hard": full}])
    create_pod(platform, d, "running", "500m")
    before = member_state(platform, d)

    # The old namespace would be released with its quota and its pod, the new one given the whole
    # budget again: frozen before anything is released or created.
    owner_patch(platform, d, "dev", {"spec": {"namespaceTemplate": "{project}-{environment}"}})
    binding = platform.wait_reason(d, "dev", "BudgetExceeded")
    message = platform.condition(binding)["message"]
    assert f"held by the quotas released namespaces keep ({d} on dev)" in message, message
    assert platform.get("namespace", f"{d}-dev", cluster="dev") is None
    assert member_state(platform, d) == before  # the old namespace, its quota and its pod, as they were

    # Taking the rename back lands again (the namespace is the plan's own, counted once).
    owner_patch(platform, d, "dev", {"spec": {"namespaceTemplate": None}})
    platform.wait_binding(d, "dev")
    assert member_state(platform, d) == before


def test_a_released_namespace_keeps_its_room_until_a_platform_admin_deletes_it(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    a, b = f"{d}-a", f"{d}-b"
    budget = [{"environment": "dev", "hard": {"requests.cpu": "2", "pods": "4"}}]
    spec: dict[str, Any] = {"quota": {"requests.cpu": "1", "pods": "2"}, "budgets": budget}
    make_domain(d, envs=("dev",), projects=[{"name": a}, {"name": b}], **spec)
    create_pod(platform, b, "left-behind", "500m")

    # The platform removes project b: its namespace is released (Retain) with its quota and its pod.
    platform.apply(domain_doc(d, projects=[{"name": a}], **spec))
    wait_until(
        lambda: (platform.get("namespace", b, cluster="dev") or {}).get("metadata", {}).get("labels", {})
        .get("bizdomain.io/released") == "true",
        timeout=60, what=f"{b} released",
    )  # fmt: skip
    assert quota_hard(platform, b) == {"requests.cpu": "1", "pods": "2"}
    wait_until(
        lambda: budget_of(platform.get("businessdomain", d)).get("allocated") == {"pods": "4", "requests.cpu": "2"},
        timeout=60,
        what="the released namespace's quota still allocated in the domain's status",
    )

    # The owner reaches for the room b held: refused while b keeps it.
    owner_patch(platform, d, "dev", {"spec": {"projectQuotas": [{"project": a, "hard": {"pods": "4"}}]}})
    binding = platform.wait_reason(d, "dev", "BudgetExceeded")
    assert f"held by the quotas released namespaces keep ({b} on dev)" in platform.condition(binding)["message"]
    assert quota_hard(platform, a) == {"requests.cpu": "1", "pods": "2"}

    # A platform admin deletes the released namespace: the room is free and the re-split lands.
    platform.member("dev").kubectl("delete", "namespace", b, "--wait=false")
    wait_until(lambda: quota_hard(platform, a).get("pods") == "4", timeout=90, what="the re-split landed")
    platform.wait_binding(d, "dev")
