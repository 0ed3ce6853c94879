"""Sandboxes on the host, as the people involved (`kubectl --as/--as-group`): who may make, extend and
delete one, in whose name, where, for how long and how many; the API server refuses everything else.

The domain's departments (see `domain_doc`): backend has `developer` in dev, sre `admin` everywhere,
qa only `viewer` in dev. The attacker's tests come first; the one developer path after them.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from support import wait_until
from support.platform import Platform

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

SANDBOX_COUNT = "count/sandboxes.bizdomain.io"
SANDBOXERS = "sandboxers.bizdomain.io/dev"
MAX_PER_DOMAIN = 5  # the operator's default (BIZDOMAIN_MAX_SANDBOXES_PER_DOMAIN)
MAX_LIFETIME_HOURS = 168  # BIZDOMAIN_SANDBOX_MAX_LIFETIME_HOURS


def departments(domain: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "members": [{"kind": "Group", "name": f"{domain}-{name}"}]} for name in ("backend", "sre", "qa")
    ]


def dev_access() -> dict[str, Any]:
    return {
        "access": [
            {"department": "backend", "role": "developer"},
            {"department": "sre", "role": "admin"},
            {"department": "qa", "role": "viewer"},
        ]
    }


def sandbox_doc(domain: str, name: str, owner: str, env: str = "dev", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "bizdomain.io/v1alpha1",
        "kind": "Sandbox",
        "metadata": {"name": name, "namespace": f"domain-{domain}"},
        "spec": {"environment": env, "owner": owner, "ttl": "2h", **spec},
    }


def as_person(platform: Platform, user: str, groups: tuple[str, ...], *args: str, input: str | None = None) -> Any:
    return platform.host.kubectl(*args, as_user=user, as_groups=groups, input=input, check=False)


def create(platform: Platform, user: str, groups: tuple[str, ...], doc: dict[str, Any]) -> Any:
    return as_person(platform, user, groups, "create", "--validate=false", "-f", "-", input=json.dumps(doc))


def refused(result: Any, *needles: str) -> None:
    assert result.returncode != 0, f"accepted: {result.stdout}"
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.fixture
def domain(platform: Platform, make_domain: Any, unique_name: str) -> str:
    """A domain bound in dev and prod, whose host namespace lets dev's developers make sandboxes."""
    make_domain(unique_name, departments=departments(unique_name), bindings={"dev": dev_access()})
    wait_sandboxes_open(platform, f"domain-{unique_name}")
    return unique_name


def wait_sandboxes_open(platform: Platform, namespace: str) -> None:
    """Until the host namespace lists dev's sandboxers and its count quota counts sandboxes."""

    def ready() -> bool:
        ns = platform.get("namespace", namespace) or {}
        quota = platform.get("resourcequota", "bizdomain-bindings", namespace) or {}
        listed = SANDBOXERS in ((ns.get("metadata") or {}).get("annotations") or {})
        return listed and SANDBOX_COUNT in ((quota.get("status") or {}).get("used") or {})

    wait_until(ready, timeout=90, interval=0.25, what=f"sandboxes open in {namespace}")


def backend(domain: str) -> tuple[str, tuple[str, ...]]:
    return f"alice-{domain}@example.com", (f"{domain}-backend",)


# ---- the attackers -----------------------------------------------------------------------


def test_a_viewer_cannot_make_a_sandbox(platform: Platform, domain: str) -> None:
    user = f"victor-{domain}@example.com"
    result = create(platform, user, (f"{domain}-qa",), sandbox_doc(domain, "feature-x", user))
    refused(result, "forbidden")


def test_anonymous_cannot_make_a_sandbox(platform: Platform, domain: str) -> None:
    doc = sandbox_doc(domain, "feature-x", "system:anonymous")
    result = create(platform, "system:anonymous", ("system:unauthenticated",), doc)
    refused(result, "forbidden")


def test_a_developer_of_another_domain_cannot(platform: Platform, make_domain: Any, domain: str) -> None:
    other = f"{domain}-o"
    make_domain(other, envs=("dev",), departments=departments(other), bindings={"dev": dev_access()})
    user, groups = backend(other)
    result = create(platform, user, groups, sandbox_doc(domain, "feature-x", user))
    refused(result, "forbidden")


def test_none_in_prod_even_for_an_admin_there(platform: Platform, domain: str) -> None:
    user = f"sam-{domain}@example.com"
    result = create(platform, user, (f"{domain}-sre",), sandbox_doc(domain, "feature-x", user, env="prod"))
    refused(result, "may not make or change sandboxes in environment prod", "allows sandboxes only in dev")


def test_not_in_someone_elses_name(platform: Platform, domain: str) -> None:
    user, groups = backend(domain)
    result = create(platform, user, groups, sandbox_doc(domain, "feature-x", f"carol-{domain}@example.com"))
    refused(result, "spec.owner must be you")


def test_not_longer_than_the_platform_allows(platform: Platform, domain: str) -> None:
    user, groups = backend(domain)
    result = create(platform, user, groups, sandbox_doc(domain, "long", user, ttl=f"{MAX_LIFETIME_HOURS + 1}h"))
    refused(result, "may live at most")


def test_over_the_count_is_refused(platform: Platform, domain: str) -> None:
    user, groups = backend(domain)
    for index in range(MAX_PER_DOMAIN):
        made = create(platform, user, groups, sandbox_doc(domain, f"s{index}", user))
        assert made.returncode == 0, made.stderr
    result = create(platform, user, groups, sandbox_doc(domain, "one-more", user))
    refused(result, "exceeded quota: bizdomain-bindings", SANDBOX_COUNT)


# ---- the developer -----------------------------------------------------------------------


def test_a_developer_creates_extends_and_deletes_one(platform: Platform, domain: str) -> None:
    user, groups = backend(domain)
    namespace = f"domain-{domain}"
    made = create(platform, user, groups, sandbox_doc(domain, "feature-x", user))
    assert made.returncode == 0, made.stderr
    listed = as_person(platform, user, groups, "get", "sandboxes", "-n", namespace)
    assert listed.returncode == 0, listed.stderr
    assert "feature-x" in listed.stdout

    created = platform.get("sandbox", "feature-x", namespace) or {}
    born = datetime.datetime.fromisoformat(created["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    within = (born + datetime.timedelta(hours=48)).strftime("%Y-%m-%dT%H:%M:%SZ")
    beyond = (born + datetime.timedelta(hours=MAX_LIFETIME_HOURS + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = ("patch", "sandbox", "feature-x", "-n", namespace, "--type=merge", "-p")
    extended = as_person(platform, user, groups, *patch, json.dumps({"spec": {"expiresAt": within}}))
    assert extended.returncode == 0, extended.stderr
    refused(as_person(platform, user, groups, *patch, json.dumps({"spec": {"expiresAt": beyond}})), "may live at most")
    stolen = as_person(platform, user, groups, *patch, json.dumps({"spec": {"owner": "mallory@example.com"}}))
    refused(stolen, "owner is immutable")

    deleted = as_person(platform, user, groups, "delete", "sandbox", "feature-x", "-n", namespace, "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
