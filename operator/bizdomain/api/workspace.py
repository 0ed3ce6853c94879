"""Workspace: a domain's anchor on a member cluster, written by the operator.

One per domain and environment on each member (``<domain>.<environment>``), so a
member-cluster user can ``kubectl get workspaces`` and see whose namespaces are whose.
"""

from __future__ import annotations

from pydantic import Field

from bizdomain.api.common import ApiModel, Condition, StatusModel, Subjects


class WorkspaceSpec(ApiModel):
    domain: str
    display_name: str
    description: str | None = None
    environment: str
    owners: Subjects = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    deletion_policy: str = "Retain"


class WorkspaceStatus(StatusModel):
    """Whether the domain's footprint on this member is complete, as the operator last saw it."""

    conditions: list[Condition] = Field(default_factory=list)
