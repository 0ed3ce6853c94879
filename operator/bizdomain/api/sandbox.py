"""Sandbox: a developer's short-lived copy of a baseline environment's namespaces.

Namespaced on the host, in the domain's own namespace (``domain-<name>``): the domain is the
namespace's, never a field. Created, extended and deleted by members of a department that has
``developer`` or ``admin`` in the base environment; the host admission policy ``bizdomain-sandboxes``
(charts/bizdomain/files/sandbox-policy.yaml) holds ``spec.owner`` to the requester and the
environment, lifetime and count to what the platform allows. Read by the handlers and the pure
planner (plan/sandbox.py); the operator writes nothing but ``status``.

Its namespaces are ``{project}--{sandbox}``: the ``--`` is reserved (no domain, project or
environment name and no binding template may hold it, see :data:`SEPARATOR`), so a sandbox's
namespace can never be a baseline's, and project and sandbox are read back from it unambiguously.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated

from pydantic import Field, model_validator

from bizdomain.api.common import (
    ApiModel,
    Condition,
    DnsLabel,
    ResourceList,
    StatusModel,
    rule,
    validations,
)

# Reserved: the only place "--" may appear in a tenant namespace name is between project and sandbox.
SEPARATOR = "--"
SANDBOX_NAME_PATTERN = r"^[a-z]([a-z0-9]|-[a-z0-9])*$"  # a DNS label without "--"
SANDBOX_NAME_MAX = 20
NO_SEPARATOR_RULE = "may not contain '--': it is reserved for sandbox namespaces ({project}--{sandbox})"
TTL_PATTERN = r"^[1-9][0-9]{0,3}(h|m)$"
_TTL_RE = re.compile(TTL_PATTERN)
SANDBOX_PHASES = ("Provisioning", "Ready", "Expiring", "Deleting")


def ttl_seconds(ttl: str) -> int:
    """``24h`` -> 86400, ``90m`` -> 5400."""
    if not _TTL_RE.match(ttl):
        raise ValueError(f"ttl {ttl!r} is not a number of hours or minutes such as 24h or 90m")
    return int(ttl[:-1]) * (3600 if ttl.endswith("h") else 60)


def sandbox_namespace(project: str, sandbox: str) -> str:
    """The member namespace of one project of one sandbox (never a baseline's, see SEPARATOR)."""
    return f"{project}{SEPARATOR}{sandbox}"


class SandboxSpec(ApiModel):
    """What a developer asks for: a copy of a baseline environment's projects, for a while."""

    environment: Annotated[DnsLabel, Field(max_length=20)] = Field(
        description="The base environment: a baseline EnvironmentBinding of the same domain.",
        json_schema_extra=validations(rule("self == oldSelf", "environment is immutable: create a new sandbox")),
    )
    owner: str = Field(
        min_length=1,
        max_length=253,
        description="Who asked for it: the admission policy holds it to the requester's username.",
        json_schema_extra=validations(rule("self == oldSelf", "owner is immutable")),
    )
    projects: Annotated[list[Annotated[DnsLabel, Field(max_length=40)]], Field(max_length=50)] | None = Field(
        None,
        description="Which of the base environment's projects it copies (default: all of them).",
        json_schema_extra=validations(rule("self == oldSelf", "projects are immutable: create a new sandbox")),
    )
    ttl: str = Field("24h", pattern=TTL_PATTERN, description="Time to live from creation: 24h, 90m, ...")
    expires_at: datetime.datetime | None = Field(
        None, description="An explicit expiry (RFC 3339), to extend it: within the platform's maximum lifetime."
    )
    quota: ResourceList | None = Field(
        None, description="ResourceQuota of each of its namespaces (default: the platform's sandbox profile)."
    )

    @model_validator(mode="after")
    def _admission_rules(self) -> SandboxSpec:
        ttl_seconds(self.ttl)
        return self

    def expiry(self, created: datetime.datetime) -> datetime.datetime:
        """When it expires: the explicit expiry, else creation plus its time to live."""
        if self.expires_at is not None:
            return self.expires_at
        return created + datetime.timedelta(seconds=ttl_seconds(self.ttl))


class SandboxNamespaces(StatusModel):
    cluster: str
    namespaces: list[str] = Field(default_factory=list)


class SandboxGrant(StatusModel):
    """One right it granted in each of its namespaces."""

    subject: str
    role: str


class SandboxStatus(StatusModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    phase: str | None = Field(None, description="Provisioning, Ready, Expiring or Deleting.")
    domain: str | None = None
    expires_at: str | None = None
    clusters: list[SandboxNamespaces] = Field(default_factory=list)
    rights: list[SandboxGrant] = Field(default_factory=list)


__all__ = ["SEPARATOR", "SandboxSpec", "SandboxStatus", "sandbox_namespace", "ttl_seconds"]
