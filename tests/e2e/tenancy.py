"""Helpers of the tenancy attack tests (test_tenancy_attacks.py, test_tenancy_live_property.py).

The attacker is a domain owner on the host: `kubectl --as=<d>-owner@example.com` (the identity
`domain_doc` names in `spec.owners`, which the operator binds to `bizdomain.io:domain-owner` in
`domain-<d>`). The victim's state is what must not change: each namespace's uid, owner (domain uid
annotation, environment label) and a ConfigMap put in it, and what each department may do there
(`kubectl auth can-i` on the member).
"""

from __future__ import annotations

import json
from typing import Any

from support import wait_until
from support.platform import Platform

from .test_domain_lifecycle import can_i

OWNER_GROUPS = ("system:authenticated",)
DEPLOYER = "system:serviceaccount:ci:deployer"
DOMAIN_UID = "bizdomain.io/domain-uid"
ENVIRONMENT = "bizdomain.io/environment"
PROTECTED = "bizdomain.io/protected"
RELEASED = "bizdomain.io/released"
MANAGED_BY = "app.kubernetes.io/managed-by"
PRECIOUS = "precious"


def owner(domain: str) -> str:
    return f"{domain}-owner@example.com"


def as_owner(platform: Platform, domain: str, *args: str, input: str | None = None, check: bool = True) -> Any:
    """kubectl on the host as the owner of ``domain``."""
    return platform.host.kubectl(*args, as_user=owner(domain), as_groups=OWNER_GROUPS, input=input, check=check)


def owner_patch(platform: Platform, domain: str, env: str, patch: dict[str, Any]) -> None:
    """A merge patch of the owner's own binding, as the owner."""
    args = ("patch", "environmentbinding", env, "-n", f"domain-{domain}", "--type=merge", "-p", json.dumps(patch))
    as_owner(platform, domain, *args)


def owner_delete(platform: Platform, domain: str, env: str) -> None:
    """The owner deletes its binding, and waits until the operator has cleaned up (its finalizer)."""
    args = ("delete", "environmentbinding", env, "-n", f"domain-{domain}", "--ignore-not-found", "--timeout=120s")
    as_owner(platform, domain, *args)


def stash(platform: Platform, cluster: str, namespace: str) -> dict[str, Any]:
    """Put a ConfigMap in ``namespace`` (as the member's admin) and return its :func:`snapshot`."""
    created = platform.member(cluster).kubectl(
        "create", "configmap", PRECIOUS, "-n", namespace, "--from-literal=keep=me", check=False
    )
    assert created.returncode == 0 or "AlreadyExists" in created.stderr, created.stderr
    return snapshot(platform, cluster, namespace)


def snapshot(platform: Platform, cluster: str, namespace: str) -> dict[str, Any]:
    """What must never change: the namespace's uid and owner, not deleting, and the ConfigMap's data."""
    ns = platform.get("namespace", namespace, cluster=cluster)
    assert ns is not None, f"namespace {namespace} is gone from {cluster}"
    meta = ns["metadata"]
    config = platform.get("configmap", PRECIOUS, namespace, cluster=cluster) or {}
    return {
        "uid": meta["uid"],
        "deleting": bool(meta.get("deletionTimestamp")),
        "owner": ((meta.get("annotations") or {}).get(DOMAIN_UID), (meta.get("labels") or {}).get(ENVIRONMENT)),
        "data": config.get("data"),
        "configmap-uid": (config.get("metadata") or {}).get("uid"),
    }


def rights(platform: Platform, domain: str, cluster: str, namespace: str) -> dict[str, bool]:
    """What each department of ``domain`` (and its deployer, and a stranger) may do in ``namespace``."""
    backend, sre, qa = f"{domain}-backend", f"{domain}-sre", f"{domain}-qa"
    checks = {
        "backend create deployments": ("create", "deployments.apps", "bob", backend),
        "backend get deployments": ("get", "deployments.apps", "bob", backend),
        "sre delete secrets": ("delete", "secrets", "sam", sre),
        "sre create rolebindings": ("create", "rolebindings.rbac.authorization.k8s.io", "sam", sre),
        "qa get pods": ("get", "pods", "quinn", qa),
        "deployer patch deployments": ("patch", "deployments.apps", DEPLOYER),
        "stranger get pods": ("get", "pods", "mallory", "strangers"),
    }
    return {
        what: can_i(platform, cluster, verb, resource, namespace, user, *groups)
        for what, (verb, resource, user, *groups) in checks.items()
    }


def subjects(platform: Platform, cluster: str, namespace: str) -> dict[str, tuple[str, list[Any]]]:
    """Every RoleBinding in ``namespace``: name -> (uid, subjects)."""
    out = platform.member(cluster).kubectl("get", "rolebindings", "-n", namespace, "-o", "json").stdout
    return {
        rb["metadata"]["name"]: (rb["metadata"]["uid"], rb.get("subjects") or []) for rb in json.loads(out)["items"]
    }


def listed(platform: Platform, cluster: str, kinds: str, selector: str) -> list[dict[str, Any]]:
    out = platform.member(cluster).kubectl("get", kinds, "-A", "-o", "json", "-l", selector).stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def message(obj: dict[str, Any] | None, platform: Platform) -> str:
    return str(platform.condition(obj).get("message") or "")


def events(platform: Platform, namespace: str) -> list[str]:
    out = platform.host.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    return [str(e.get("message") or "") for e in json.loads(out)["items"]]


def barrier(platform: Platform, domain: str, env: str, pods: int) -> None:
    """Until the member has had a pass after everything done so far: the owner sets the quota of
    its (valid, unfrozen) ``env`` binding to ``pods`` and waits for the member to hold it."""
    owner_patch(platform, domain, env, {"spec": {"quota": {"pods": str(pods)}}})

    def holds() -> bool:
        quota = platform.get("resourcequota", "bizdomain-quota", domain, cluster=env) or {}
        return bool((quota.get("spec") or {}).get("hard", {}).get("pods") == str(pods))

    wait_until(holds, timeout=60, interval=0.25, what=f"{env} quota of {domain} at {pods} pods (a later pass)")
