"""What the fault tests look at: a member's managed objects, the footprint a domain should have
there, status entries, the operator's own metrics, and the numbers each test reports.

Everything is read the way a platform engineer would (kubectl against the real API servers, the
operator's Prometheus endpoint). Nothing here imports the operator's planner: the expected
footprint is an independent statement of the README's model, not a copy of the code under test.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable
from typing import Any

from bizdomain.plan.objects import Key, key_of
from support import ClusterHandle, wait_until
from support.platform import Platform

JSON = dict[str, Any]

TENANT_KINDS = "namespaces,workspaces.bizdomain.io,rolebindings,resourcequotas,limitranges,networkpolicies"
MANAGED = "app.kubernetes.io/managed-by=bizdomain"
TENANT = f"{MANAGED},bizdomain.io/component=tenant"
RESYNC_SECONDS = 5.0  # BIZDOMAIN_RESYNC_SECONDS of the e2e platform


# ---- what is on a member -----------------------------------------------------------------------


def listed(cluster: ClusterHandle, selector: str = TENANT) -> list[JSON]:
    """Every object of the kinds bizdomain writes on a member that matches ``selector``, but what stays
    with a namespace no tenant keeps: a released (or terminating) namespace keeps its ResourceQuota
    and LimitRange by design (what restricts is never pruned), and they are no tenant's footprint."""
    out = cluster.kubectl("get", TENANT_KINDS, "-A", "-l", selector, "-o", "json").stdout
    found: list[JSON] = json.loads(out)["items"]
    namespaces = json.loads(cluster.kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    kept = {
        n["metadata"]["name"]
        for n in namespaces
        if (n["metadata"].get("labels") or {}).get("bizdomain.io/released") == "true"
        or n["metadata"].get("deletionTimestamp")
    }
    restricting = ("ResourceQuota", "LimitRange")
    return [o for o in found if not (o["kind"] in restricting and o["metadata"].get("namespace") in kept)]


def items(cluster: ClusterHandle, kind: str) -> list[JSON]:
    """Every object of ``kind`` on ``cluster``, in all namespaces."""
    found: list[JSON] = json.loads(cluster.kubectl("get", kind, "-A", "-o", "json").stdout)["items"]
    return found


def by_key(items: Iterable[JSON]) -> dict[Key, JSON]:
    """Index objects by (kind, namespace, name); the same key twice is a duplicate and fails."""
    items = list(items)
    counts = Counter(key_of(i) for i in items)
    duplicates = sorted((k for k, n in counts.items() if n > 1), key=str)
    assert not duplicates, f"duplicates: {duplicates}"
    return {key_of(i): i for i in items}


def domain_selector(domains: Iterable[str]) -> str:
    return f"{TENANT},bizdomain.io/domain in ({','.join(sorted(domains))})"


def footprint(cluster: ClusterHandle, domains: Iterable[str]) -> dict[Key, JSON]:
    """The managed tenant objects of ``domains`` on one member, by key."""
    return by_key(listed(cluster, domain_selector(domains)))


def quotas(cluster: ClusterHandle, domain: str) -> dict[str, dict[str, str]]:
    """The managed quota's ``spec.hard`` in each of the domain's namespaces on one member."""
    selector = f"{TENANT},bizdomain.io/domain={domain}"
    out = cluster.kubectl("get", "resourcequotas", "-A", "-l", selector, "-o", "json").stdout
    return {q["metadata"]["namespace"]: q["spec"]["hard"] for q in json.loads(out)["items"]}


def uids(objects: dict[Key, JSON]) -> dict[Key, str]:
    return {k: o["metadata"]["uid"] for k, o in objects.items()}


# ---- what should be there ----------------------------------------------------------------------


def default_access(env: str) -> list[tuple[str, str]]:
    """The access matrix of e2e's binding_doc: backend develops in dev and views elsewhere, SRE admins."""
    return [("backend", "developer" if env == "dev" else "viewer"), ("sre", "admin")]


def expected_tenant(
    domain: str,
    env: str,
    namespaces: Iterable[str] | None = None,
    access: Iterable[tuple[str, str]] | None = None,
) -> set[Key]:
    """The README's footprint of one domain in one environment (domain_doc/binding_doc defaults:
    deployers, a quota and limits, no network isolation)."""
    keys: set[Key] = {("Workspace", None, f"{domain}.{env}")}
    for ns in namespaces if namespaces is not None else [domain]:
        keys.add(("Namespace", None, ns))
        for department, role in default_access(env) if access is None else access:
            keys.add(("RoleBinding", ns, f"bizdomain.io:department:{department}:{role}"))
        keys |= {
            ("RoleBinding", ns, "bizdomain.io:deployers"),
            ("ResourceQuota", ns, "bizdomain-quota"),
            ("LimitRange", ns, "bizdomain-limits"),
        }
    return keys


def difference(actual: Iterable[Key], expected: Iterable[Key]) -> str:
    """'' when equal, else what is missing and what is unexpected."""
    actual, expected = set(actual), set(expected)
    missing = sorted(expected - actual, key=str)
    extra = sorted(actual - expected, key=str)
    if not missing and not extra:
        return ""
    return f"missing {len(missing)}: {missing[:12]}; unexpected {len(extra)}: {extra[:12]}"


# ---- status on the host ------------------------------------------------------------------------


def binding(platform: Platform, domain: str, env: str) -> JSON | None:
    return platform.get("environmentbinding", env, f"domain-{domain}")


def cluster_entry(obj: JSON | None, cluster: str) -> JSON:
    """One cluster's entry of a binding's ``status.clusters``, or {}."""
    for entry in ((obj or {}).get("status") or {}).get("clusters") or []:
        if entry.get("cluster") == cluster:
            return dict(entry)
    return {}


def converged(platform: Platform, domain: str, env: str) -> bool:
    """The binding is Ready for its current generation."""
    obj = binding(platform, domain, env)
    cond = platform.condition(obj)
    gen = (obj or {}).get("metadata", {}).get("generation")
    return cond.get("status") == "True" and cond.get("observedGeneration") == gen


def domain_converged(platform: Platform, domain: str) -> bool:
    """The domain is Ready for its current generation: every binding converged on its latest spec
    (a binding's own observedGeneration does not move when only the domain changes)."""
    obj = platform.get("businessdomain", domain)
    cond = platform.condition(obj)
    gen = (obj or {}).get("metadata", {}).get("generation")
    return cond.get("status") == "True" and cond.get("observedGeneration") == gen


def member_ready(platform: Platform, member: str) -> JSON:
    return platform.condition(platform.get("membercluster", member))


def member_events(platform: Platform, member: str) -> list[JSON]:
    """Events about a MemberCluster, in whichever namespace they were posted, oldest first."""
    out = platform.host.kubectl(
        "get",
        "events",
        "-A",
        "--field-selector",
        f"involvedObject.kind=MemberCluster,involvedObject.name={member}",
        "-o",
        "json",
    ).stdout
    items: list[JSON] = json.loads(out)["items"]
    return sorted(items, key=lambda e: e.get("lastTimestamp") or e["metadata"]["creationTimestamp"])


# ---- the operator process ----------------------------------------------------------------------


def operator_pid(platform: Platform) -> int:
    assert platform.operator.proc is not None, "the operator is not running"
    assert platform.operator.alive(), f"the operator exited with {platform.operator.proc.returncode}"
    return platform.operator.proc.pid


def metric(platform: Platform, name: str, **labels: str) -> float:
    """One sample of the running operator's Prometheus metrics (0 when absent)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"http://127.0.0.1:{platform.operator.metrics_port}/metrics"
    with opener.open(url, timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def wait_metric(platform: Platform, name: str, at_least: float, timeout: float, **labels: str) -> float:
    return wait_until(
        lambda: (value := metric(platform, name, **labels)) >= at_least and value,
        timeout=timeout,
        interval=0.2,
        what=f"{name}{labels} >= {at_least}",
    )


# ---- numbers for the README --------------------------------------------------------------------


class Stopwatch:
    """Seconds since it was made (or last reset), for the numbers a test reports."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def reset(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return round(time.monotonic() - self.start, 2)


def report(test: str, **numbers: Any) -> None:
    """Print the measured numbers (and append them to $BIZDOMAIN_FAULTS_RESULTS when set)."""
    line = json.dumps({"test": test, **numbers}, sort_keys=True)
    print(f"\nFAULTS {line}")
    if path := os.environ.get("BIZDOMAIN_FAULTS_RESULTS"):
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
