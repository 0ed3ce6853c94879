"""What ``bizdomain plan`` found, and its JSON form (``-o json``), versioned.

Built by :mod:`bizdomain.preview.changes` and :mod:`bizdomain.preview.command`, printed by
:mod:`bizdomain.preview.render`. The JSON shape is ``bizdomain.io/plan/v1`` (documented in the
README, section "Plan a change"); fields are only ever added within a version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bizdomain.preview.diff import FieldChange

JSON = dict[str, Any]
PLAN_API_VERSION = "bizdomain.io/plan/v1"
# What a change does to one object on a member, in the order they are printed.
ACTIONS = ("create", "update", "correct", "prune", "release", "delete")
APPLIES = ("create", "update", "correct")


@dataclass(frozen=True)
class Issue:
    """A problem the operator would report (condition reason and message)."""

    reason: str
    message: str

    def to_json(self) -> JSON:
        return {"reason": self.reason, "message": self.message}


@dataclass
class Change:
    action: str  # one of ACTIONS; "correct": drift the operator would undo (the plan did not change)
    kind: str
    namespace: str | None
    name: str
    domain: str | None = None
    environment: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)

    @property
    def what(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def to_json(self) -> JSON:
        return {
            "action": self.action,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "domain": self.domain,
            "environment": self.environment,
            "fields": [f.to_json() for f in self.fields],
            "dangers": list(self.dangers),
        }


@dataclass
class TenantResult:
    """One (domain, environment) on one cluster: the namespaces it keeps, its problems."""

    domain: str
    environment: str
    binding: str  # namespace/name of its EnvironmentBinding
    frozen: bool = False
    namespaces: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Issue] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {
            "domain": self.domain,
            "environment": self.environment,
            "binding": self.binding,
            "frozen": self.frozen,
            "namespaces": list(self.namespaces),
            "unchanged": self.unchanged,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass
class ClusterResult:
    cluster: str
    environments: list[str] = field(default_factory=list)
    protected: bool = False
    status: str = "planned"  # planned | unreadable | not-installed | removed
    error: Issue | None = None
    tenants: list[TenantResult] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {
            "name": self.cluster,
            "environments": list(self.environments),
            "protected": self.protected,
            "status": self.status,
            "error": self.error.to_json() if self.error else None,
            "tenants": [t.to_json() for t in self.tenants],
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass
class HostIssue:
    """A problem with a host object itself (a binding naming an unknown cluster, say)."""

    kind: str
    namespace: str | None
    name: str
    issue: Issue

    def to_json(self) -> JSON:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, **self.issue.to_json()}


@dataclass
class PlanResult:
    mode: str  # offline | live
    base: str  # what the change is compared with: "live members", "host", "files", "nothing"
    clusters: list[ClusterResult] = field(default_factory=list)
    host: list[HostIssue] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # kind -> documents in the files not read
    # Host objects (kind, namespace, name) the files change outside --domain: not planned, never hidden.
    outside: list[tuple[str, str, str]] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter(dict.fromkeys(ACTIONS, 0))
        for cluster in self.clusters:
            counts.update(c.action for c in cluster.changes)
        counts["dangers"] = sum(len(c.dangers) for cl in self.clusters for c in cl.changes)
        counts["problems"] = len(self.host) + sum(len(t.problems) for cl in self.clusters for t in cl.tenants)
        counts["errors"] = sum(1 for cl in self.clusters if cl.error is not None)
        return counts

    @property
    def changed(self) -> bool:
        return bool(self.outside) or any(c.changes or c.status == "removed" for c in self.clusters)

    @property
    def failed(self) -> bool:
        return any(cluster.error is not None for cluster in self.clusters)

    def to_json(self) -> JSON:
        return {
            "apiVersion": PLAN_API_VERSION,
            "mode": self.mode,
            "base": self.base,
            "summary": dict(self.counts()),
            "host": {
                "problems": [h.to_json() for h in self.host],
                "skipped": dict(sorted(self.skipped.items())),
                "outside": [{"kind": k, "namespace": ns or None, "name": n} for k, ns, n in self.outside],
            },
            "clusters": [c.to_json() for c in self.clusters],
        }
