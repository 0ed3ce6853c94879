"""A sandbox's life on the members, end to end: its namespaces, rights, status, budget and expiry.

Made as a developer of the domain (`kubectl --as`, see test_sandboxes.py); what it must never touch
is every other namespace on every member, compared by uid before and after.
"""

from __future__ import annotations

import datetime
import json
import signal
from typing import Any

import pytest

from support import wait_until
from support.platform import MEMBERS, Platform

from .test_sandboxes import backend, create, departments, dev_access, domain, sandbox_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
__all__ = ["domain"]  # the fixture, shared with test_sandboxes.py


def soon(seconds: int) -> str:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def uids(platform: Platform) -> dict[str, str]:
    """Every namespace on every member, by uid (but those already terminating: an earlier test's)."""
    out = {}
    for member in MEMBERS:
        listed = json.loads(platform.member(member).kubectl("get", "namespaces", "-o", "json").stdout)["items"]
        live = [ns for ns in listed if not ns["metadata"].get("deletionTimestamp")]
        out.update({f"{member}/{ns['metadata']['name']}": ns["metadata"]["uid"] for ns in live})
    return out


def wait_status(platform: Platform, domain: str, name: str, what: str, check: Any, *, timeout: float = 60) -> Any:
    def probe() -> Any:
        obj = platform.get("sandbox", name, f"domain-{domain}") or {}
        return obj if check(obj.get("status") or {}) else None

    return wait_until(probe, timeout=timeout, interval=0.25, what=f"sandbox {name}: {what}")


def condition(status: dict[str, Any], type_: str = "Ready") -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})


def make(platform: Platform, domain: str, name: str, **spec: Any) -> dict[str, Any]:
    user, groups = backend(domain)
    made = create(platform, user, groups, sandbox_doc(domain, name, user, **spec))
    assert made.returncode == 0, made.stderr
    ready: dict[str, Any] = wait_status(platform, domain, name, "Ready", lambda s: condition(s).get("status") == "True")
    return ready


def test_its_namespaces_carry_the_base_rights_plus_the_creator_as_admin(platform: Platform, domain: str) -> None:
    ready = make(platform, domain, "feature-x")
    status = ready["status"]
    namespace = f"{domain}--feature-x"
    assert status["phase"] == "Ready"
    assert {"cluster": "dev", "namespaces": [namespace]} in status["clusters"]
    assert status["expiresAt"]
    ns = platform.get("namespace", namespace, cluster="dev") or {}
    labels = ns["metadata"]["labels"]
    assert labels["bizdomain.io/sandbox"] == "feature-x"
    assert labels["bizdomain.io/sandbox-uid"] == ready["metadata"]["uid"]
    assert labels["bizdomain.io/environment"] == "dev--feature-x"
    bindings = json.loads(platform.member("dev").kubectl("get", "rolebindings", "-n", namespace, "-o", "json").stdout)
    granted = {(rb["roleRef"]["name"], s["name"]) for rb in bindings["items"] for s in rb.get("subjects") or []}
    user, _ = backend(domain)
    assert ("bizdomain.io:developer", f"{domain}-backend") in granted
    assert ("bizdomain.io:admin", f"{domain}-sre") in granted
    assert ("bizdomain.io:viewer", f"{domain}-qa") in granted
    assert ("bizdomain.io:deployer", "deployer") in granted
    assert ("bizdomain.io:admin", user) in granted
    assert platform.get("namespace", namespace, cluster="prod") is None


def test_expiry_deletes_its_namespaces_and_nothing_else(platform: Platform, domain: str) -> None:
    before = uids(platform)
    assert f"dev/{domain}" in before  # the baseline namespace, which must stay
    make(platform, domain, "short", expiresAt=soon(25))
    namespace = f"{domain}--short"
    assert platform.get("namespace", namespace, cluster="dev") is not None
    expiring = lambda s: condition(s, "ExpiringSoon").get("status") == "True"  # noqa: E731
    wait_status(platform, domain, "short", "ExpiringSoon", expiring)
    wait_until(lambda: platform.get("sandbox", "short", f"domain-{domain}") is None, timeout=90, what="sandbox gone")
    wait_until(lambda: platform.get("namespace", namespace, cluster="dev") is None, timeout=90, what="namespace gone")
    after = uids(platform)
    assert {k: v for k, v in after.items() if k in before} == before
    events = platform.host.kubectl("get", "events", "-n", f"domain-{domain}", "-o", "json").stdout
    reasons = {e["reason"] for e in json.loads(events)["items"] if e["involvedObject"].get("name") == "short"}
    assert {"ExpiringSoon", "Expired"} <= reasons


def test_deleting_it_by_hand_deletes_its_namespaces_at_once(platform: Platform, domain: str) -> None:
    make(platform, domain, "by-hand")
    namespace = f"{domain}--by-hand"
    user, groups = backend(domain)
    deleted = platform.host.kubectl(
        "delete", "sandbox", "by-hand", "-n", f"domain-{domain}", "--timeout=90s", as_user=user, as_groups=groups
    )
    assert deleted.returncode == 0
    wait_until(lambda: platform.get("namespace", namespace, cluster="dev") is None, timeout=90, what="namespace gone")


def test_a_stopped_member_deletes_nothing_until_it_is_back(platform: Platform, domain: str) -> None:
    make(platform, domain, "outage")
    namespace = f"{domain}--outage"
    uid = (platform.get("namespace", namespace, cluster="dev") or {})["metadata"]["uid"]
    platform.plane.faults.stop_apiserver("dev")
    try:
        platform.delete("sandbox", "outage", f"domain-{domain}", wait=False)
        # The operator has seen dev unreachable during the deletion: it holds the finalizer, deletes nothing.
        held = wait_status(
            platform, domain, "outage", "held", lambda s: condition(s).get("reason") == "DeletionBlocked"
        )
        assert held["status"]["phase"] == "Deleting"
        assert "DeletionBlocked" in _events(platform, domain, "outage")
    finally:
        platform.plane.faults.start_apiserver("dev")
    ns = platform.get("namespace", namespace, cluster="dev") or {}
    assert not ns or ns["metadata"]["uid"] == uid
    wait_until(lambda: platform.get("sandbox", "outage", f"domain-{domain}") is None, timeout=120, what="sandbox gone")
    wait_until(lambda: platform.get("namespace", namespace, cluster="dev") is None, timeout=90, what="namespace gone")


def test_an_operator_killed_around_expiry_neither_loses_nor_doubles_it(platform: Platform, domain: str) -> None:
    ready = make(platform, domain, "killed", expiresAt=soon(20))
    namespace = f"{domain}--killed"
    end = datetime.datetime.fromisoformat(ready["status"]["expiresAt"].replace("Z", "+00:00"))
    at = end - datetime.timedelta(seconds=1)
    wait_until(lambda: datetime.datetime.now(datetime.UTC) >= at, timeout=60, interval=0.2, what="just before expiry")
    platform.operator.stop(signal.SIGKILL)
    try:
        wait_until(lambda: datetime.datetime.now(datetime.UTC) >= end, timeout=30, interval=0.2, what="expiry")
        assert platform.get("namespace", namespace, cluster="dev") is not None  # nobody deletes while it is down
    finally:
        platform.operator.start()
    wait_until(lambda: platform.get("sandbox", "killed", f"domain-{domain}") is None, timeout=120, what="sandbox gone")
    wait_until(lambda: platform.get("namespace", namespace, cluster="dev") is None, timeout=90, what="namespace gone")
    platform.operator.stop(signal.SIGKILL)  # and once more after it: nothing comes back
    platform.operator.start()
    make(platform, domain, "after-kill")  # the operator is back at work (a full pass ran) ...
    assert platform.get("namespace", namespace, cluster="dev") is None  # ... and made nothing of "killed" again
    assert _events(platform, domain, "killed").count("Expired:") == 1


def test_over_budget_is_frozen_and_creates_nothing(platform: Platform, make_domain: Any, domain: str) -> None:
    tight = f"{domain}-b"
    budgets = [{"environment": "dev", "hard": {"requests.cpu": "5", "pods": "40"}}]
    make_domain(tight, envs=("dev",), departments=departments(tight), bindings={"dev": dev_access()}, budgets=budgets)
    _open(platform, tight)
    user, groups = backend(tight)
    made = create(platform, user, groups, sandbox_doc(tight, "big", user, quota={"requests.cpu": "2", "pods": "5"}))
    assert made.returncode == 0, made.stderr
    frozen = wait_status(
        platform, tight, "big", "BudgetExceeded", lambda s: condition(s).get("reason") == "BudgetExceeded"
    )
    assert "requests.cpu" in condition(frozen["status"])["message"]
    assert platform.get("namespace", f"{tight}--big", cluster="dev") is None
    fits = create(platform, user, groups, sandbox_doc(tight, "small", user, quota={"requests.cpu": "1", "pods": "5"}))
    assert fits.returncode == 0, fits.stderr
    wait_status(platform, tight, "small", "Ready", lambda s: condition(s).get("status") == "True")


def _events(platform: Platform, domain: str, name: str) -> str:
    listed = json.loads(platform.host.kubectl("get", "events", "-n", f"domain-{domain}", "-o", "json").stdout)
    mine = [e for e in listed["items"] if e["involvedObject"].get("name") == name]
    return " ".join(f"{e.get('reason')}: {e.get('message', '')}" for e in mine)


def _open(platform: Platform, name: str) -> None:
    namespace = f"domain-{name}"

    def ready() -> bool:
        ns = platform.get("namespace", namespace) or {}
        quota = platform.get("resourcequota", "bizdomain-bindings", namespace) or {}
        listed = "sandboxers.bizdomain.io/dev" in ((ns.get("metadata") or {}).get("annotations") or {})
        return listed and "count/sandboxes.bizdomain.io" in ((quota.get("status") or {}).get("used") or {})

    wait_until(ready, timeout=90, interval=0.25, what=f"sandboxes open in {namespace}")
