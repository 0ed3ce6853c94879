"""Domain budgets end to end: the platform sets a budget per environment on the BusinessDomain, the
domain's owner (`kubectl --as` the owner) splits it in its binding, the member API servers' quota
admission holds every namespace to its share, and usage comes back from the quotas' `status.used`.

Real Pods: no kubelet runs, so they stay Pending, and they count towards `requests.*` and `pods`.
The attacker's tests come first; "members untouched" means every quota and limit range of the
domain keeps its resourceVersion and every pod its uid.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from support import wait_until
from support.platform import Platform

from .budgets import budget_of, create_pod, member_state, quota_hard, wait_used
from .tenancy import as_owner, events, owner_patch

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
BINDING = ("environmentbinding", "dev")


def test_usage_is_shown_back_and_the_member_refuses_a_pod_past_its_share(
    platform: Platform, make_domain: Any, unique_name: str
) -> None:
    d = unique_name
    budget = {"requests.cpu": "2", "pods": "4"}
    make_domain(
        d, envs=("dev",), quota={"requests.cpu": "1", "pods": "2"}, budgets=[{"environment": "dev", "hard": budget}]
    )
    create_pod(platform, d, "first", "600m")
    domain = wait_used(platform, d, {"pods": "1", "requests.cpu": "600m"})
    figures = budget_of(domain)
    assert figures["hard"] == budget
    assert figures["allocated"] == {"pods": "2", "requests.cpu": "1"}  # one namespace's quota
    assert figures["available"] == {"pods": "2", "requests.cpu": "1"}
    binding = platform.get("environmentbinding", "dev", f"domain-{d}")
    wait_until(
        lambda: budget_of(platform.get("environmentbinding", "dev", f"domain-{d}")).get("used", {}).get("pods") == "1",
        timeout=30,
        what="the binding's status shows the use",
    )
    assert binding is not None
    column = platform.host.kubectl("get", "domains", d).stdout
    assert "BUDGET" in column, column
    assert "dev requests.cpu 600m/2" in column, column

    refused = create_pod(platform, d, "second", "600m", check=False)  # 1200m > the namespace's 1
    assert refused.returncode != 0
    assert "Forbidden" in refused.stderr, refused.stderr
    assert "exceeded quota: bizdomain-quota" in refused.stderr, refused.stderr

    url = f"http://127.0.0.1:{platform.operator.metrics_port}/metrics"

    def scraped() -> bool:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        labels = f'domain="{d}",environment="dev",resource="requests.cpu"'
        return all(
            f"{name}{{{labels}}} {value}" in text
            for name, value in (("bizdomain_budget_hard", "2.0"), ("bizdomain_budget_allocated", "1.0"),
                                ("bizdomain_budget_used", "0.6"))
        )  # fmt: skip

    wait_until(scraped, timeout=30, interval=0.5, what="budget metrics")


def test_an_owner_can_resplit_but_not_raise_the_budget_nor_lift_container_limits(
    platform: Platform, make_domain: Any, unique_name: str
) -> None:
    d, other = unique_name, f"{unique_name}-b"
    make_domain(
        d,
        envs=("dev",),
        projects=[{"name": d}, {"name": other}],
        quota={"requests.cpu": "1", "pods": "5"},
        limits={"default": {"cpu": "500m", "memory": "256Mi"}, "max": {"cpu": "1", "memory": "1Gi"}},
        budgets=[{"environment": "dev", "hard": {"requests.cpu": "2", "pods": "10"}}],
    )
    create_pod(platform, d, "running", "500m")
    wait_used(platform, d, {"pods": "1", "requests.cpu": "500m"})
    before = member_state(platform, d)

    # The budget is the platform's: the owner cannot write the BusinessDomain at all.
    patch = {"spec": {"budgets": [{"environment": "dev", "hard": {"requests.cpu": "1000", "pods": "1000"}}]}}
    denied = as_owner(platform, d, "patch", "businessdomain", d, "--type=merge", "-p", json.dumps(patch), check=False)
    assert denied.returncode != 0, denied.stderr
    assert "forbidden" in denied.stderr.lower(), denied.stderr

    # Raising its own quota past the whole budget, or lifting the platform's ceiling per container:
    # refused at admission (the host policy reads the budget from the domain's namespace).
    raised = {"spec": {"quota": {"requests.cpu": "100000"}}}
    patch_binding = ("patch", *BINDING, "-n", f"domain-{d}", "--type=merge", "-p")
    refused = as_owner(platform, d, *patch_binding, json.dumps(raised), check=False)
    assert refused.returncode != 0
    assert "one namespace's quota may not be more than the domain's whole budget in dev" in refused.stderr
    assert "requests.cpu 2" in refused.stderr, refused.stderr
    lifted = {"spec": {"limits": {"max": {"cpu": "64"}}}}
    refused = as_owner(platform, d, *patch_binding, json.dumps(lifted), check=False)
    assert refused.returncode != 0
    assert "container limits may not be above the domain's limits.max (cpu 1, memory 1Gi)" in refused.stderr

    # A split that only the sum over every namespace breaks is accepted by the API server and frozen.
    owner_patch(platform, d, "dev", {"spec": {"quota": {"requests.cpu": "1500m"}}})
    binding = platform.wait_reason(d, "dev", "BudgetExceeded")
    message = platform.condition(binding)["message"]
    assert "requests.cpu: 2 namespace(s) would allocate 3, more than the domain's budget of 2" in message, message
    wait_until(
        lambda: any("would allocate 3," in e for e in events(platform, f"domain-{d}")),
        timeout=30,
        what="a BudgetExceeded Event",
    )
    assert member_state(platform, d) == before  # nothing on the member moved
    assert quota_hard(platform, d)["requests.cpu"] == "1"

    # The platform lowering the ceiling below what the binding set freezes it too, with nothing lowered.
    owner_patch(platform, d, "dev", {"spec": {"quota": None, "limits": {"max": {"cpu": "800m"}}}})
    platform.wait_binding(d, "dev")
    before = member_state(platform, d)
    ceiling = {"spec": {"limits": {"default": {"cpu": "500m", "memory": "256Mi"}, "max": {"cpu": "600m"}}}}
    platform.host.kubectl("patch", "businessdomain", d, "--type=merge", "-p", json.dumps(ceiling))
    binding = platform.wait_reason(d, "dev", "LimitsExceeded")
    assert "limits.max.cpu 800m is above the domain's ceiling" in platform.condition(binding)["message"]
    assert member_state(platform, d) == before
    limit_range = platform.get("limitrange", "bizdomain-limits", d, cluster="dev") or {}
    assert limit_range["spec"]["limits"][0]["max"]["cpu"] == "800m"

    # A re-split inside the budget lands.
    resplit = [
        {"project": d, "hard": {"requests.cpu": "1500m"}},
        {"project": other, "hard": {"requests.cpu": "500m", "pods": "2"}},
    ]
    owner_patch(platform, d, "dev", {"spec": {"limits": None, "projectQuotas": resplit}})
    platform.wait_binding(d, "dev")
    wait_until(lambda: quota_hard(platform, d).get("requests.cpu") == "1500m", timeout=30, what="the new split")
    assert quota_hard(platform, other) == {"requests.cpu": "500m", "pods": "2"}
    domain = wait_until(
        lambda: (o := platform.get("businessdomain", d)) and budget_of(o).get("allocated", {}).get("pods") == "7" and o,
        timeout=30,
        what="the allocation folded",
    )
    assert budget_of(domain)["allocated"] == {"pods": "7", "requests.cpu": "2"}
    assert budget_of(domain)["available"] == {"pods": "3", "requests.cpu": "0"}


def test_a_budget_lowered_below_usage_says_over_budget_and_deletes_nothing(
    platform: Platform, make_domain: Any, unique_name: str
) -> None:
    d = unique_name
    make_domain(
        d,
        envs=("dev",),
        quota={"requests.cpu": "1", "pods": "3"},
        budgets=[{"environment": "dev", "hard": {"requests.cpu": "1", "pods": "3"}}],
    )
    create_pod(platform, d, "one", "300m")
    create_pod(platform, d, "two", "300m")
    wait_used(platform, d, {"pods": "2", "requests.cpu": "600m"})
    before = member_state(platform, d)

    lowered = {"spec": {"budgets": [{"environment": "dev", "hard": {"requests.cpu": "1", "pods": "1"}}]}}
    platform.host.kubectl("patch", "businessdomain", d, "--type=merge", "-p", json.dumps(lowered))
    binding = platform.wait_reason(d, "dev", "BudgetExceeded")
    assert "pods: 1 namespace(s) would allocate 3" in platform.condition(binding)["message"]

    def over(obj: dict[str, Any] | None) -> dict[str, Any]:
        cond = platform.condition(obj, "OverBudget")
        return cond if cond.get("status") == "True" else {}

    cond = wait_until(lambda: over(platform.get("environmentbinding", "dev", f"domain-{d}")), what="OverBudget")
    assert "dev pods used 2 > budget 1" in cond["message"]
    assert "nothing is deleted" in cond["message"]
    wait_until(lambda: over(platform.get("businessdomain", d)), what="OverBudget on the domain")
    wait_until(
        lambda: any("dev pods used 2 > budget 1" in e for e in events(platform, f"domain-{d}")),
        timeout=30,
        what="an OverBudget Event",
    )
    assert member_state(platform, d) == before  # every pod, quota and limit range as it was
