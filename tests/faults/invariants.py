"""Data safety invariants, checked after every fault test with :func:`assert_invariants`.

Never deleted (same uid as at session start):
  * sentinel namespaces (and a ConfigMap in each) that bizdomain did not create, on every member,
    one of them labelled like a tenant namespace but without ``app.kubernetes.io/managed-by``;
  * a namespace a Retain policy released (with a workload ConfigMap), still released;
  * ``default``, ``kube-system``, ``kube-public``, ``kube-node-lease`` and their ConfigMaps, on
    every cluster (host included).
Never left behind: no object labelled ``app.kubernetes.io/managed-by=bizdomain`` on a member
whose domain no longer exists on the host, or whose environment the domain no longer binds.

:func:`record_baseline` makes the sentinels and the released namespace and records the uids;
:func:`remove_baseline` deletes what it made, at the end of the session.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from support import ClusterHandle, wait_until
from support.platform import MEMBERS, Platform, binding_doc, domain_doc

from .probes import JSON, MANAGED, listed

PROTECTED = ("default", "kube-system", "kube-public", "kube-node-lease")
# (cluster, kind, namespace or "", name)
Ident = tuple[str, str, str, str]


@dataclass
class Baseline:
    kept: dict[Ident, str] = field(default_factory=dict)  # -> uid
    released: list[tuple[str, str]] = field(default_factory=list)  # (cluster, namespace)
    made: list[tuple[str, str, str]] = field(default_factory=list)  # (cluster, kind, name) to remove


_baseline: Baseline | None = None


def _ident(cluster: str, item: JSON) -> Ident:
    meta = item["metadata"]
    return (cluster, item["kind"], meta.get("namespace") or "", meta["name"])


def _namespaces_and_configmaps(handle: ClusterHandle) -> dict[Ident, JSON]:
    out = handle.kubectl("get", "namespaces,configmaps", "-A", "-o", "json").stdout
    return {_ident(handle.name, i): i for i in json.loads(out)["items"]}


def _sentinel(handle: ClusterHandle, name: str, labels: dict[str, str]) -> None:
    handle.kubectl(
        "create",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "precious", "namespace": name},
                        "data": {"keep": "me"},
                    },
                ],
            }
        ),
    )


def _released_namespace(platform: Platform, domain: str) -> None:
    """A domain bound to dev under Retain, with a workload, whose binding is then deleted."""
    platform.apply(domain_doc(domain))
    platform.wait_host_namespace(domain)
    platform.apply(binding_doc(domain, "dev"))
    platform.wait_binding(domain, "dev")
    platform.member("dev").kubectl("create", "configmap", "workload", "-n", domain, "--from-literal=a=b")
    platform.delete("environmentbinding", "dev", f"domain-{domain}")  # waits for the finalizer
    platform.delete("businessdomain", domain)
    labels = platform.require("namespace", domain, cluster="dev")["metadata"]["labels"]
    assert labels.get("bizdomain.io/released") == "true", labels


def record_baseline(platform: Platform) -> Baseline:
    """Make the sentinels and a released namespace, and record every uid that must not change."""
    global _baseline  # noqa: PLW0603  (one baseline per session, read by assert_invariants(platform))
    tag = secrets.token_hex(3)
    baseline = Baseline()
    for member in MEMBERS:
        handle = platform.member(member)
        plain, lookalike = f"faults-sentinel-{tag}", f"faults-lookalike-{tag}"
        baseline.made += [(member, "namespace", plain), (member, "namespace", lookalike)]
        _sentinel(handle, plain, {})
        # Carries the tenant labels except managed-by: it looks like ours and is not.
        tenant = {"bizdomain.io/domain": f"faults-ghost-{tag}", "bizdomain.io/environment": member}
        _sentinel(handle, lookalike, {**tenant, "bizdomain.io/component": "tenant"})
    kept_domain = f"faults-kept-{tag}"
    baseline.made.append(("dev", "namespace", kept_domain))
    _released_namespace(platform, kept_domain)
    baseline.released.append(("dev", kept_domain))
    for handle in platform.plane.clusters.values():
        for ident, item in _namespaces_and_configmaps(handle).items():
            namespace = ident[2] if ident[1] == "ConfigMap" else ident[3]
            if namespace in PROTECTED or (handle.name in MEMBERS and tag in namespace):
                baseline.kept[ident] = item["metadata"]["uid"]
    _baseline = baseline
    return baseline


def remove_baseline(platform: Platform, baseline: Baseline) -> None:
    for cluster, kind, name in baseline.made:
        platform.member(cluster).kubectl("delete", kind, name, "--ignore-not-found", "--wait=false")


def _lost(platform: Platform, baseline: Baseline) -> list[str]:
    problems = []
    live: dict[Ident, JSON] = {}
    for handle in platform.plane.clusters.values():
        live.update(_namespaces_and_configmaps(handle))
    for ident, uid in sorted(baseline.kept.items()):
        item = live.get(ident)
        if item is None:
            problems.append(f"deleted: {ident}")
        elif item["metadata"]["uid"] != uid:
            problems.append(f"deleted and recreated: {ident}")
        elif item["metadata"].get("deletionTimestamp"):
            problems.append(f"being deleted: {ident}")
    for cluster, namespace in baseline.released:
        item = live.get((cluster, "Namespace", "", namespace))
        labels = (item or {}).get("metadata", {}).get("labels") or {}
        if labels.get("bizdomain.io/released") != "true" or "app.kubernetes.io/managed-by" in labels:
            problems.append(f"released namespace {cluster}/{namespace} no longer released: {labels}")
    return problems


def left_behind(platform: Platform) -> list[str]:
    """Managed objects on members whose domain is gone from the host, or whose environment the
    domain no longer binds there."""
    domains = {
        d["metadata"]["name"]
        for d in json.loads(platform.host.kubectl("get", "businessdomains", "-o", "json").stdout)["items"]
    }
    bound = {
        (b["metadata"]["namespace"].removeprefix("domain-"), b["spec"]["environment"])
        for b in json.loads(platform.host.kubectl("get", "environmentbindings", "-A", "-o", "json").stdout)["items"]
    }
    out = []
    for member in MEMBERS:
        for item in listed(platform.member(member), MANAGED):
            labels = item["metadata"].get("labels") or {}
            domain, env = labels.get("bizdomain.io/domain"), labels.get("bizdomain.io/environment")
            if domain is None:
                continue  # bizdomain's platform ClusterRoles and the Workspace CRD belong to no domain
            where = f"{member}: {item['kind']} {item['metadata'].get('namespace') or ''}/{item['metadata']['name']}"
            if domain not in domains:
                out.append(f"{where} of deleted domain {domain}")
            elif (domain, env) not in bound:
                out.append(f"{where} of {domain} in unbound environment {env}")
    return out


def assert_invariants(platform: Platform, timeout: float = 60) -> None:
    """Fail if anything that must never be deleted is gone, or (after ``timeout``, for namespaces
    still terminating) if a managed object of a deleted domain or binding is left on a member."""
    assert _baseline is not None, "record_baseline(platform) was not called in this session"
    lost = _lost(platform, _baseline)
    assert not lost, "data safety invariant broken:\n" + "\n".join(lost)
    leftovers: list[str] = []

    def clean() -> bool:
        nonlocal leftovers
        leftovers = left_behind(platform)
        return not leftovers

    try:
        wait_until(clean, timeout=timeout, interval=1, what="no managed object of a deleted domain or binding")
    except AssertionError:
        raise AssertionError("left behind on members:\n" + "\n".join(leftovers[:40])) from None
