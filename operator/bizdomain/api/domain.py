"""BusinessDomain: a tenant of the platform, cluster-scoped on the host.

Read by the handlers (parse ``spec``) and by the pure planner; written only by people
and GitOps. The operator writes nothing but ``status``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from bizdomain.api.common import (
    ApiModel,
    Condition,
    DeletionPolicy,
    DnsLabel,
    Limits,
    ResourceList,
    StatusModel,
    Subjects,
    list_map,
    rule,
    validations,
)

ShortName = Annotated[DnsLabel, Field(max_length=40)]


class Department(ApiModel):
    """A group of people inside the domain whose rights differ per environment."""

    name: ShortName
    members: Subjects = Field(default_factory=list)


class Project(ApiModel):
    """A namespace the domain has in each environment it is bound to (or in some of them)."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            rule(
                "self.name != 'default' && !self.name.startsWith('kube-')",
                "a project may not be named default or start with kube-: those namespaces belong to the platform",
            ),
            # "--" is reserved for sandbox namespaces ({project}--{sandbox}, api/sandbox.py).
            rule("!self.name.contains('--')", "a project name may not contain '--' (reserved for sandboxes)"),
        )
    )

    name: ShortName
    environments: Annotated[list[DnsLabel], Field(max_length=16)] | None = Field(
        None, description="Only in these environments; every bound environment when unset."
    )

    @model_validator(mode="after")
    def _admission_rules(self) -> Project:
        # The same rule as the CEL one above, for objects stored before it existed.
        if self.name == "default" or self.name.startswith("kube-"):
            raise ValueError("a project may not be named default or start with kube-")
        if "--" in self.name:
            raise ValueError("a project name may not contain '--' (reserved for sandboxes)")
        return self

    def in_environment(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments


class Budget(ApiModel):
    """The most a domain may allocate in one environment, summed over all its namespaces on all
    the environment's clusters. Platform-owned: it lives on the BusinessDomain, never on a binding."""

    environment: Annotated[DnsLabel, Field(max_length=20)]
    hard: ResourceList = Field(
        description="ResourceQuota resources (requests.cpu, requests.memory, pods, ...) and their ceiling."
    )


class BusinessDomainSpec(ApiModel):
    """What a domain is and what it gets everywhere it is bound."""

    display_name: str = Field(min_length=1, max_length=128, description="Any Unicode, shown by kubectl.")
    description: str | None = Field(None, max_length=2048)
    owners: Subjects = Field(min_length=1, description="May edit the domain's EnvironmentBindings on the host.")
    departments: Annotated[list[Department], Field(max_length=50)] = Field(
        default_factory=list, json_schema_extra=list_map("name")
    )
    projects: Annotated[list[Project], Field(max_length=50)] | None = Field(
        None,
        description="Namespaces per environment; one named after the domain when unset.",
        json_schema_extra=list_map("name"),
    )
    quota: ResourceList | None = Field(None, description="ResourceQuota hard limits of every namespace.")
    limits: Limits | None = Field(
        None,
        description="Default container limits (a LimitRange); limits.max is also the ceiling bindings cannot lift.",
    )
    network_isolation: bool = Field(
        False, description="Admit traffic only from the domain's own namespaces in the same environment."
    )
    deletion_policy: DeletionPolicy = Field(
        "Retain", description="Default for bindings: what happens to namespaces when a binding goes."
    )

    budgets: Annotated[list[Budget], Field(max_length=32)] = Field(
        default_factory=list,
        description="Per environment, the most the domain may allocate there over all its namespaces and clusters.",
        json_schema_extra=list_map("environment"),
    )
    default_budget: ResourceList | None = Field(
        None, description="The budget of every environment that budgets does not list (none: unbudgeted)."
    )

    def budget(self, environment: str) -> dict[str, str] | None:
        """The budget of one environment (its entry, else the default), or None when unbudgeted."""
        entry = next((b for b in self.budgets if b.environment == environment), None)
        return dict(entry.hard) if entry is not None else (dict(self.default_budget) if self.default_budget else None)

    def project_names(self, domain: str, environment: str) -> list[str]:
        """The projects this domain has in one environment, in spec order."""
        if self.projects is None:
            return [domain]
        return [p.name for p in self.projects if p.in_environment(environment)]

    def department(self, name: str) -> Department | None:
        return next((d for d in self.departments if d.name == name), None)


class ClusterOutcome(StatusModel):
    """How one environment of a domain fares on one member cluster."""

    cluster: str
    ready: bool
    reason: str
    message: str = ""
    namespaces: list[str] = Field(default_factory=list)


class EnvironmentStatus(StatusModel):
    environment: str
    binding: str
    ready: bool
    clusters: list[ClusterOutcome] = Field(default_factory=list)


class BudgetUsage(StatusModel):
    """One environment's budget and its use, per resource (quantities as Kubernetes writes them)."""

    environment: str
    hard: dict[str, str] = Field(default_factory=dict, description="The budget.")
    allocated: dict[str, str] = Field(default_factory=dict, description="Sum of the namespaces' quota hard.")
    used: dict[str, str] = Field(default_factory=dict, description="Sum of the quotas' status.used.")
    available: dict[str, str] = Field(default_factory=dict, description="hard - allocated, never below 0.")


class DomainSummary(StatusModel):
    """Strings for ``kubectl get domains`` printer columns."""

    environments: str = ""
    clusters: str = "0/0"
    budget: str | None = Field(None, description="CPU requests used/budget in the busiest environment.")


class BusinessDomainStatus(StatusModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    host_namespace: str | None = Field(None, description="Where this domain's EnvironmentBindings live.")
    environments: list[EnvironmentStatus] = Field(default_factory=list)
    budgets: list[BudgetUsage] = Field(default_factory=list)
    summary: DomainSummary = Field(default_factory=DomainSummary)
