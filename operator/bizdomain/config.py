"""Operator settings, read once from the environment (the Helm chart sets them).

Handlers and the sync layer receive a :class:`Settings` instance; nothing else reads
``os.environ``. Every value has a safe default so ``python -m bizdomain`` works locally.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Never "privileged": the member admission policy refuses it too (a stolen token must not lower it).
POD_SECURITY_LEVELS = ("baseline", "restricted")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class Settings(BaseModel):
    """What the platform decides, not the tenants: allow-lists, protections, timings."""

    model_config = ConfigDict(frozen=True)

    namespace: str = Field("bizdomain-system", description="The operator's own namespace on the host.")
    domain_namespace_prefix: str = Field("domain-", description="Host namespace of a domain's bindings.")
    allowed_cluster_roles: tuple[str, ...] = Field(
        (), description="Extra member ClusterRoles an access entry may name, besides bizdomain's own."
    )
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    protected_environments: tuple[str, ...] = Field(
        ("prod",), description="Environments where a Delete policy is refused and treated as Retain."
    )
    resync_seconds: float = Field(60.0, gt=0, description="Full re-sync of every member, changes or not.")
    relist_seconds: float = Field(
        600.0, gt=0, description="Each kind on a member is listed afresh this often; watches keep it current between."
    )
    request_timeout_seconds: float = Field(10.0, gt=0)
    member_concurrency: int = Field(16, ge=1, description="Requests in flight per member cluster.")
    deletion_grace_seconds: float = Field(
        600.0, ge=0, description="How long an unreachable member may hold a deletion before it is released."
    )
    debounce_seconds: float = Field(0.2, ge=0, description="Changes within this window share one sync.")
    pod_security: tuple[str, ...] = Field(
        ("baseline",),
        description="Pod Security level of tenant namespaces: a default level, then environment=level overrides.",
    )
    deployer_namespaces: tuple[str, ...] = Field(
        ("ci",), description="Deployers must be ServiceAccounts in one of these (member) namespaces."
    )
    allow_unsafe_kubeconfigs: bool = Field(
        False,
        description="Accept member kubeconfigs that name a credential plugin, a local file or an http:// server.",
    )
    token_renew_fraction: float = Field(
        0.5, gt=0, le=1, description="A member token is renewed once this fraction of its lifetime has passed."
    )
    max_bindings_per_domain: int = Field(
        10, ge=0, description="EnvironmentBindings a domain may have (a host ResourceQuota in its namespace)."
    )
    sandbox_environments: tuple[str, ...] = Field(
        ("dev",), description="Environments where developers may make sandboxes (never a protected one)."
    )
    sandbox_max_lifetime_hours: int = Field(
        168, ge=1, le=24 * 90, description="Longest a sandbox may live, from creation, extensions included."
    )
    max_sandboxes_per_domain: int = Field(
        5, ge=0, description="Sandboxes a domain may hold at once (the host ResourceQuota in its namespace)."
    )
    sandbox_quota: tuple[str, ...] = Field(
        ("requests.cpu=1", "requests.memory=2Gi", "limits.cpu=2", "limits.memory=4Gi", "pods=10"),
        description="ResourceQuota of each sandbox namespace unless the sandbox sets one (resource=quantity).",
    )

    @field_validator("allowed_cluster_roles")
    @classmethod
    def _no_cluster_admin(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        if "cluster-admin" in roles:
            raise ValueError("cluster-admin can never be allow-listed")
        return roles

    @field_validator("pod_security")
    @classmethod
    def _pod_security_levels(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        for entry in entries:
            level = entry.partition("=")[2] if "=" in entry else entry
            if level not in POD_SECURITY_LEVELS:
                raise ValueError(f"pod security level {level!r} is not one of {', '.join(POD_SECURITY_LEVELS)}")
        return entries

    @model_validator(mode="after")
    def _sandbox_quota_entries(self) -> Settings:
        for entry in self.sandbox_quota:
            if "=" not in entry:
                raise ValueError(f"sandbox quota entry {entry!r} is not resource=quantity")
        return self

    def sandbox_allowed(self, environment: str) -> bool:
        """Whether developers may make sandboxes in ``environment``: listed, and never a protected one
        (a protected environment listed by mistake is ignored; the chart refuses to render it)."""
        return environment in self.sandbox_environments and not self.is_protected_environment(environment)

    def sandbox_quota_profile(self) -> dict[str, str]:
        """The default ResourceQuota hard of a sandbox namespace."""
        return dict(entry.split("=", 1) for entry in self.sandbox_quota)

    def pod_security_level(self, environment: str) -> str:
        """The Pod Security level tenant namespaces of ``environment`` are held to."""
        level = "baseline"
        for entry in self.pod_security:
            env, sep, value = entry.partition("=")
            if not sep:
                level = entry
            elif env == environment:
                return value
        return level

    def is_protected_environment(self, environment: str) -> bool:
        return environment in self.protected_environments

    def is_protected_namespace(self, name: str) -> bool:
        """kube-*, default, the operator's own namespace and the configured list are never touched."""
        return (
            name.startswith("kube-") or name == "default" or name in self.protected_namespaces or name == self.namespace
        )

    def domain_namespace(self, domain: str) -> str:
        return f"{self.domain_namespace_prefix}{domain}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``BIZDOMAIN_*`` variables; unknown variables are ignored."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        scalars = {
            "NAMESPACE": "namespace",
            "DOMAIN_NAMESPACE_PREFIX": "domain_namespace_prefix",
            "RESYNC_SECONDS": "resync_seconds",
            "RELIST_SECONDS": "relist_seconds",
            "REQUEST_TIMEOUT_SECONDS": "request_timeout_seconds",
            "MEMBER_CONCURRENCY": "member_concurrency",
            "DELETION_GRACE_SECONDS": "deletion_grace_seconds",
            "DEBOUNCE_SECONDS": "debounce_seconds",
            "ALLOW_UNSAFE_KUBECONFIGS": "allow_unsafe_kubeconfigs",
            "TOKEN_RENEW_FRACTION": "token_renew_fraction",
            "MAX_BINDINGS_PER_DOMAIN": "max_bindings_per_domain",
            "SANDBOX_MAX_LIFETIME_HOURS": "sandbox_max_lifetime_hours",
            "MAX_SANDBOXES_PER_DOMAIN": "max_sandboxes_per_domain",
        }
        for var, field in scalars.items():
            if f"BIZDOMAIN_{var}" in env:
                values[field] = env[f"BIZDOMAIN_{var}"]
        lists = {
            "ALLOWED_CLUSTER_ROLES": "allowed_cluster_roles",
            "PROTECTED_NAMESPACES": "protected_namespaces",
            "PROTECTED_ENVIRONMENTS": "protected_environments",
            "POD_SECURITY": "pod_security",
            "DEPLOYER_NAMESPACES": "deployer_namespaces",
            "SANDBOX_ENVIRONMENTS": "sandbox_environments",
            "SANDBOX_QUOTA": "sandbox_quota",
        }
        for var, field in lists.items():
            if f"BIZDOMAIN_{var}" in env:
                values[field] = _csv(env[f"BIZDOMAIN_{var}"])
        return cls.model_validate(values)
