"""Budgets, attacked by freezing a lower ask: a source that does not land keeps what its members hold.

A developer with sandbox rights lowers its landed sandbox's quota and drops a budgeted resource in
the same edit, so the sandbox freezes (a namespace would be unbounded) and its namespaces keep their
quota on the member. The domain owner then raises its binding into that room. Were the frozen sandbox
counted at what its spec now asks, the domain would hold its budget and the sandbox's share again.
The other way round, a sandbox asking for far more than fits freezes itself, never the baseline.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support import wait_until
from support.platform import MakeDomain, Platform

from .budgets import member_state, quota_hard
from .tenancy import owner_patch
from .test_sandboxes import as_person, backend, create, departments, dev_access, sandbox_doc, wait_sandboxes_open

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

ONE = {"requests.cpu": "1", "pods": "2"}
BUDGET = [{"environment": "dev", "hard": {"requests.cpu": "2", "pods": "4"}}]
Person = tuple[str, tuple[str, ...]]  # a user and its groups, for kubectl --as/--as-group


def landed_sandbox(platform: Platform, make_domain: MakeDomain, d: str, name: str) -> Person:
    """A domain whose dev budget is full: its baseline (1 cpu, 2 pods) and a landed sandbox ``name`` (the same)."""
    host_ns = f"domain-{d}"
    make_domain(d, envs=("dev",), departments=departments(d), bindings={"dev": dev_access()}, quota=ONE, budgets=BUDGET)
    wait_sandboxes_open(platform, host_ns)
    user, groups = backend(d)
    made = create(platform, user, groups, sandbox_doc(d, name, user, quota=ONE))
    assert made.returncode == 0, made.stderr
    wait_until(
        lambda: (
            ((platform.get("sandbox", name, host_ns) or {}).get("status") or {}).get("phase") == "Ready"
            and quota_hard(platform, f"{d}--{name}") == ONE
        ),
        timeout=90,
        interval=0.25,
        what="the sandbox landed with its quota",
    )
    return user, groups


def patch_sandbox(platform: Platform, who: Person, d: str, name: str, quota: dict[str, Any]) -> None:
    args = ("patch", "sandbox", name, "-n", f"domain-{d}", "--type=merge", "-p", json.dumps({"spec": {"quota": quota}}))
    patched = as_person(platform, *who, *args)
    assert patched.returncode == 0, patched.stderr


def test_a_sandbox_frozen_with_a_lower_quota_keeps_its_room_from_the_baseline(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    who = landed_sandbox(platform, make_domain, d, "keep")
    sandbox_ns = f"{d}--keep"

    # The developer asks for less, and leaves pods unbounded: frozen, it keeps 1 cpu and 2 pods.
    patch_sandbox(platform, who, d, "keep", {"requests.cpu": "0", "pods": None})
    platform.wait_ready_condition("sandbox", "keep", f"domain-{d}", timeout=60, reason="BudgetExceeded")
    assert quota_hard(platform, sandbox_ns) == ONE
    before = member_state(platform, d)

    # The owner raises the baseline into the room the frozen sandbox still holds: frozen too.
    owner_patch(platform, d, "dev", {"spec": {"quota": {"requests.cpu": "2", "pods": "4"}}})
    binding = platform.wait_reason(d, "dev", "BudgetExceeded")
    message = platform.condition(binding)["message"]
    assert "Sandbox/keep" in message, message
    assert quota_hard(platform, d) == ONE
    assert quota_hard(platform, sandbox_ns) == ONE
    assert member_state(platform, d) == before


def test_a_sandbox_asking_far_more_than_fits_freezes_itself_not_the_baseline(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    d = unique_name
    who = landed_sandbox(platform, make_domain, d, "greedy")
    patch_sandbox(platform, who, d, "greedy", {"requests.cpu": "1000", "pods": "1000"})
    platform.wait_ready_condition("sandbox", "greedy", f"domain-{d}", timeout=60, reason="BudgetExceeded")
    assert quota_hard(platform, f"{d}--greedy") == ONE
    # The baseline is untouched and stays Ready: a re-split within what it holds still lands.
    owner_patch(platform, d, "dev", {"spec": {"quota": {"requests.cpu": "500m"}}})
    platform.wait_ready_condition("environmentbinding", "dev", f"domain-{d}", timeout=60, status="True")
    wait_until(lambda: quota_hard(platform, d).get("requests.cpu") == "500m", timeout=60, interval=0.25,
               what="the re-split landed")  # fmt: skip
