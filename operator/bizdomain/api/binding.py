"""EnvironmentBinding: binds one domain to one environment.

Namespaced on the host, in the domain's own namespace (``domain-<name>``), so host RBAC
can let a domain's owners edit their bindings and never bind into another domain:
the domain is the namespace's, never a field a tenant could point elsewhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from bizdomain.api.common import (
    DNS_LABEL,
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
from bizdomain.api.domain import BudgetUsage, ClusterOutcome

ROLE_PATTERN = r"^[a-z0-9]([-a-z0-9:.]*[a-z0-9])?$"
DEFAULT_NAMESPACE_TEMPLATE = "{project}"
# The characters a template may hold; the rule below then allows placeholders joined by "-" only, so
# every namespace name is spelled from names the platform chose (domain, project, environment),
# never from a literal a tenant wrote, which could spell another domain's namespace (a squat on a
# name before its domain is bound there).
TEMPLATE_PATTERN = r"^([a-z0-9-]|\{domain\}|\{project\}|\{environment\})+$"
TEMPLATE_RULE = "namespaceTemplate may only join {domain}, {project} and {environment} with '-' (no other text)"
EnvironmentName = Annotated[DnsLabel, Field(max_length=20)]


class LabelSelectorRequirement(ApiModel):
    key: str = Field(min_length=1, max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: Annotated[list[str], Field(max_length=64)] | None = None


class LabelSelector(ApiModel):
    """A standard label selector over MemberCluster labels."""

    match_labels: Annotated[dict[str, str], Field(max_length=32)] | None = None
    match_expressions: Annotated[list[LabelSelectorRequirement], Field(max_length=16)] | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        for req in self.match_expressions or []:
            present = req.key in labels
            values = req.values or []
            if req.operator == "In" and (not present or labels[req.key] not in values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


class ClusterSelection(ApiModel):
    """Which member clusters: by name, by label, or (when empty) every cluster serving the environment."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            rule("!(has(self.names) && has(self.selector))", "give cluster names or a selector, not both")
        )
    )

    names: Annotated[list[DnsLabel], Field(max_length=64)] | None = None
    selector: LabelSelector | None = None

    @model_validator(mode="after")
    def _admission_rules(self) -> ClusterSelection:
        if self.names is not None and self.selector is not None:
            raise ValueError("give cluster names or a selector, not both")
        return self


class AccessEntry(ApiModel):
    """One row of the access matrix: a department and the role it has in this environment."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            rule(
                "self.role != 'cluster-admin' && !self.role.startsWith('system:')",
                "cluster-admin and system: roles can never be granted to a domain",
            )
        )
    )

    department: Annotated[DnsLabel, Field(max_length=40)]
    role: str = Field(
        pattern=ROLE_PATTERN,
        max_length=100,
        description="admin, developer, viewer, deployer, or a ClusterRole the platform allow-lists.",
    )


class ProjectQuota(ApiModel):
    """One project's quota in this environment, key by key over the binding's and the domain's."""

    project: Annotated[DnsLabel, Field(max_length=40)]
    hard: ResourceList


class EnvironmentBindingSpec(ApiModel):
    """What one environment gives a domain: clusters, access, deployers, quota and naming."""

    environment: EnvironmentName = Field(
        json_schema_extra=validations(
            rule("self == oldSelf", "environment is immutable: create a new binding instead"),
            rule("!self.contains('--')", "an environment name may not contain '--' (reserved for sandboxes)"),
        )
    )
    clusters: ClusterSelection | None = None
    access: Annotated[list[AccessEntry], Field(max_length=50)] = Field(
        default_factory=list, json_schema_extra=list_map("department")
    )
    deployers: Subjects = Field(
        default_factory=list, description="The pipeline identities that may roll out and scale workloads."
    )
    quota: ResourceList | None = Field(None, description="Overrides of the domain's quota, key by key.")
    limits: Limits | None = Field(
        None, description="Overrides of the domain's container limits, never above the domain's limits.max."
    )
    namespace_template: str = Field(
        DEFAULT_NAMESPACE_TEMPLATE,
        max_length=63,
        pattern=TEMPLATE_PATTERN,
        description="Namespace name from {domain}, {project} and {environment}; must contain {project}.",
        json_schema_extra=validations(
            rule("self.contains('{project}')", "namespaceTemplate must contain {project}"),
            rule(
                "self.replace('{domain}', '').replace('{project}', '').replace('{environment}', '').matches('^-*$')",
                TEMPLATE_RULE,
            ),
            rule("!self.contains('--')", "namespaceTemplate may not contain '--' (reserved for sandboxes)"),
        ),
    )
    deletion_policy: DeletionPolicy | None = Field(
        None, description="Retain (the domain's default) leaves namespaces; Delete removes them."
    )
    project_quotas: Annotated[list[ProjectQuota], Field(max_length=50)] = Field(
        default_factory=list,
        description="Per-project quota over spec.quota, key by key; the sum must fit the domain's budget.",
        json_schema_extra=list_map("project"),
    )

    def project_quota(self, project: str) -> dict[str, str]:
        entry = next((p for p in self.project_quotas if p.project == project), None)
        return dict(entry.hard) if entry is not None else {}

    @model_validator(mode="after")
    def _admission_rules(self) -> EnvironmentBindingSpec:
        # The CEL rules, again, for objects stored before they existed.
        if "{project}" not in self.namespace_template:
            raise ValueError("namespaceTemplate must contain {project}")
        bare = self.namespace_template
        for placeholder in ("{domain}", "{project}", "{environment}"):
            bare = bare.replace(placeholder, "")
        if bare.strip("-"):
            raise ValueError(TEMPLATE_RULE)
        if "--" in self.namespace_template or "--" in self.environment:
            raise ValueError("namespaceTemplate and environment may not contain '--' (reserved for sandboxes)")
        for entry in self.access:
            if entry.role == "cluster-admin" or entry.role.startswith("system:"):
                raise ValueError("cluster-admin and system: roles can never be granted to a domain")
        return self

    def namespace_for(self, domain: str, project: str) -> str:
        return (
            self.namespace_template.replace("{domain}", domain)
            .replace("{project}", project)
            .replace("{environment}", self.environment)
        )


class BindingSummary(StatusModel):
    clusters: str = "0/0"


class EnvironmentBindingStatus(StatusModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    domain: str | None = None
    clusters: list[ClusterOutcome] = Field(default_factory=list)
    summary: BindingSummary = Field(default_factory=BindingSummary)
    budget: BudgetUsage | None = Field(None, description="The domain's budget in this environment and its use.")


__all__ = ["DNS_LABEL", "AccessEntry", "ClusterSelection", "EnvironmentBindingSpec", "LabelSelector", "ProjectQuota"]
