"""What the budget tests share: real Pods on dev (Pending without a kubelet, still counted by the
quota), the budget figures in a status, and a snapshot of what the domain holds on the member."""

from __future__ import annotations

import json
from typing import Any

from support import wait_until
from support.platform import Platform


def pod(name: str, cpu: str) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "64Mi"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.invalid/pause:1", "resources": resources}]},
    }


def create_pod(platform: Platform, namespace: str, name: str, cpu: str, *, check: bool = True) -> Any:
    """Create a Pod on dev as the member's admin (waits for the namespace's default ServiceAccount)."""

    def attempt() -> Any:
        result = platform.member("dev").kubectl(
            "create", "-n", namespace, "-f", "-", input=json.dumps(pod(name, cpu)), check=False
        )
        return None if "serviceaccount" in result.stderr.lower() else result

    result = wait_until(attempt, timeout=30, interval=0.25, what=f"pod {name} answered")
    if check:
        assert result.returncode == 0, result.stderr
    return result


def budget_of(obj: dict[str, Any] | None, env: str = "dev") -> dict[str, Any]:
    status = (obj or {}).get("status") or {}
    if "budget" in status:
        return dict(status.get("budget") or {})
    return next((b for b in status.get("budgets") or [] if b.get("environment") == env), {})


def wait_used(platform: Platform, domain: str, used: dict[str, str]) -> dict[str, Any]:
    """The domain once its status shows ``used`` in dev (the member's quota controller counted the pods)."""
    return wait_until(
        lambda: (obj := platform.get("businessdomain", domain)) and budget_of(obj).get("used") == used and obj,
        timeout=60,
        interval=0.25,
        what=f"{domain} using {used} in dev",
    )


def member_state(platform: Platform, domain: str) -> dict[str, str]:
    """Every quota and limit range of the domain on dev (resourceVersion), and every pod (uid)."""
    k = platform.member("dev")
    out = {}
    selector = f"bizdomain.io/domain={domain}"
    for obj in json.loads(k.kubectl("get", "resourcequotas,limitranges", "-A", "-l", selector, "-o", "json").stdout)[
        "items"
    ]:
        meta = obj["metadata"]
        out[f"{obj['kind']}/{meta['namespace']}/{meta['name']}"] = meta["resourceVersion"]
    for ns in json.loads(k.kubectl("get", "namespaces", "-l", selector, "-o", "json").stdout)["items"]:
        name = ns["metadata"]["name"]
        for item in json.loads(k.kubectl("get", "pods", "-n", name, "-o", "json").stdout)["items"]:
            out[f"Pod/{name}/{item['metadata']['name']}"] = item["metadata"]["uid"]
    return out


def quota_hard(platform: Platform, namespace: str) -> dict[str, str]:
    quota = platform.get("resourcequota", "bizdomain-quota", namespace, cluster="dev") or {}
    return dict((quota.get("spec") or {}).get("hard") or {})
