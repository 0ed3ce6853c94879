"""The benchmark's workload: N domains x E environments over M member clusters (pure).

Builds the host documents a platform team would apply (BusinessDomain, EnvironmentBinding) and
which environments each member serves, and turns the same documents into the operator's own
:class:`bizdomain.plan.World` so that the floor (:func:`floor_plans`) writes exactly the objects
bizdomain's planner wants. Nothing here talks to a cluster; :mod:`bench.run` and
:mod:`bench.phases` call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan import ClusterPlan, World, plan_cluster
from bizdomain.records import binding_record, domain_record, member_record

DOMAIN_QUOTA = {"requests.cpu": "4", "pods": "20"}
# With --budgets, each environment's budget: room for every project on every cluster of it at
# DOMAIN_QUOTA, and for the change-latency edits (pods up to 100 + repeats on one namespace).
BUDGET = {"requests.cpu": "64", "pods": "1000"}
ROLES = ("developer", "viewer", "admin")
NAMESPACE_TEMPLATE = "{domain}-{project}-{environment}"


@dataclass(frozen=True)
class Shape:
    """How big one run is: N domains, each bound to E environments served by M member clusters."""

    domains: int
    environments: int = 2
    members: int = 2
    projects: int = 2
    departments: int = 2
    network_isolation: bool = True
    budgets: bool = False  # a budget per environment on every domain (#13's cost, side by side)

    def __post_init__(self) -> None:
        if min(self.domains, self.environments, self.members, self.projects) < 1 or self.departments < 0:
            raise ValueError(f"every dimension must be at least 1 (departments at least 0): {self}")

    # ---- clusters and environments ---------------------------------------------------------

    def environment_names(self) -> list[str]:
        """``dev``, ``prod``, then ``e3``, ``e4``, ..."""
        return [("dev", "prod")[i] if i < 2 else f"e{i + 1}" for i in range(self.environments)]

    def member_names(self) -> list[str]:
        """``dev``, ``prod``, then ``m3``, ``m4``, ... (the names `bizdomain join` registers)."""
        return [("dev", "prod")[i] if i < 2 else f"m{i + 1}" for i in range(self.members)]

    def member_environments(self, member: str) -> list[str]:
        """The environments one member serves: every environment is served by at least one
        member, every member serves at least one environment (round robin both ways)."""
        k = self.member_names().index(member)
        envs = self.environment_names()
        served = {j for j in range(self.environments) if j % self.members == k} | {k % self.environments}
        return [envs[j] for j in sorted(served)]

    def clusters_of(self, environment: str) -> list[str]:
        return [m for m in self.member_names() if environment in self.member_environments(m)]

    def clusters_per_domain(self) -> int:
        """How many (environment, cluster) entries a Ready domain reports (its ``x/x`` summary)."""
        return sum(len(self.clusters_of(e)) for e in self.environment_names())

    # ---- documents ------------------------------------------------------------------------

    def domain_name(self, i: int) -> str:
        return f"bd-{i:04d}"

    def namespace(self, i: int, project: int, environment: str) -> str:
        """The member namespace of project ``project`` of domain ``i`` in ``environment``."""
        return (
            NAMESPACE_TEMPLATE.replace("{domain}", self.domain_name(i))
            .replace("{project}", f"p{project}")
            .replace("{environment}", environment)
        )

    def domain_doc(self, i: int) -> dict[str, Any]:
        name = self.domain_name(i)
        spec: dict[str, Any] = {
            "displayName": f"Domain {i}",
            "owners": [{"kind": "User", "name": f"{name}-owner@example.com"}],
            "departments": [
                {"name": f"dept{j}", "members": [{"kind": "Group", "name": f"{name}-dept{j}"}]}
                for j in range(self.departments)
            ],
            "projects": [{"name": f"p{k}"} for k in range(self.projects)],
            "quota": dict(DOMAIN_QUOTA),
            "limits": {"default": {"cpu": "500m", "memory": "256Mi"}},
            "networkIsolation": self.network_isolation,
        }
        if self.budgets:
            spec["budgets"] = [{"environment": env, "hard": dict(BUDGET)} for env in self.environment_names()]
        return {"apiVersion": names.API_VERSION, "kind": names.KIND_DOMAIN, "metadata": {"name": name}, "spec": spec}

    def binding_doc(self, i: int, environment: str, quota: dict[str, str] | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "environment": environment,
            "access": [{"department": f"dept{j}", "role": ROLES[j % len(ROLES)]} for j in range(self.departments)],
            "deployers": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}],
            "namespaceTemplate": NAMESPACE_TEMPLATE,
        }
        if quota:
            spec["quota"] = dict(quota)
        return {
            "apiVersion": names.API_VERSION,
            "kind": names.KIND_BINDING,
            "metadata": {"name": environment, "namespace": f"domain-{self.domain_name(i)}"},
            "spec": spec,
        }

    def member_doc(self, member: str) -> dict[str, Any]:
        """The MemberCluster `bizdomain join` creates for ``member`` (as far as the planner reads it)."""
        return {
            "apiVersion": names.API_VERSION,
            "kind": names.KIND_MEMBER,
            "metadata": {"name": member, "labels": {}},
            "spec": {
                "kubeconfigSecretRef": {"name": f"member-{member}"},
                "environments": self.member_environments(member),
            },
        }

    def objects_per_member(self, member: str) -> int:
        """Member objects the plan holds for one member: CRD, 4 platform roles, and per tenant a
        Workspace plus per namespace the Namespace, RoleBindings, quota, limits and policy."""
        per_namespace = 1 + self.departments + 1 + 1 + 1 + (1 if self.network_isolation else 0)
        tenants = self.domains * len(self.member_environments(member))
        return 1 + 4 + tenants * (1 + self.projects * per_namespace)


def world(shape: Shape) -> World:
    """The World the operator would build from the host, from the generated documents.

    Records are parsed by the operator's own :mod:`bizdomain.records`, exactly as its index
    handlers do; uid/generation/creationTimestamp are the only fields made up here."""

    def meta(doc: dict[str, Any], uid: str) -> dict[str, Any]:
        return {**doc, "metadata": {**doc["metadata"], "uid": uid, "generation": 1, "creationTimestamp": ""}}

    domains = {}
    bindings = {}
    for i in range(shape.domains):
        record = domain_record(meta(shape.domain_doc(i), f"d{i}"))
        domains[record.name] = record
        for env in shape.environment_names():
            brecord = binding_record(meta(shape.binding_doc(i, env), f"b{i}-{env}"))
            bindings[brecord.key] = brecord
    members = {m: member_record(shape.member_doc(m)) for m in shape.member_names()}
    return World(domains=domains, bindings=bindings, members=members)


def floor_plans(shape: Shape, settings: Settings) -> dict[str, ClusterPlan]:
    """Per member, the exact desired objects, from bizdomain's pure planner."""
    snapshot = world(shape)
    return {name: plan_cluster(member, snapshot, settings) for name, member in snapshot.members.items()}
