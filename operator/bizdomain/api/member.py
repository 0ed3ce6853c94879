"""MemberCluster: how the operator reaches one member cluster, and which environments it serves."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bizdomain.api.common import DNS_SUBDOMAIN, ApiModel, Condition, DnsLabel, StatusModel


class SecretKeyRef(ApiModel):
    """A key of a Secret in the operator's own namespace on the host."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field("kubeconfig", min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class MemberClusterSpec(ApiModel):
    kubeconfig_secret_ref: SecretKeyRef = Field(
        description="Secret (in the operator's namespace) holding a kubeconfig for the member."
    )
    environments: Annotated[list[Annotated[DnsLabel, Field(max_length=20)]], Field(min_length=1, max_length=16)]


class MemberClusterStatus(StatusModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    kubernetes_version: str | None = None
    last_probe_time: str | None = None
