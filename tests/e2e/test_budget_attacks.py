"""Budgets, acting as a department admin on a member: the quota and limits that hold a namespace to
its share of the domain's budget, and the usage the operator folds back from the quota's status,
are out of the tenant's reach (the `admin` role the platform aggregates reads them, never writes).
"""

from __future__ import annotations

import pytest

from support.platform import MakeDomain, Platform

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
