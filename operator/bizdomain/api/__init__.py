"""Typed models of the bizdomain API (group bizdomain.io), and CRD generation from them."""

from bizdomain.api.binding import AccessEntry, EnvironmentBindingSpec, EnvironmentBindingStatus
from bizdomain.api.common import Condition, Limits, Subject, parse_quantity
from bizdomain.api.domain import (
    BusinessDomainSpec,
    BusinessDomainStatus,
    ClusterOutcome,
    Department,
    EnvironmentStatus,
    Project,
)
from bizdomain.api.member import MemberClusterSpec, MemberClusterStatus
from bizdomain.api.workspace import WorkspaceSpec

__all__ = [
    "AccessEntry",
    "BusinessDomainSpec",
    "BusinessDomainStatus",
    "ClusterOutcome",
    "Condition",
    "Department",
    "EnvironmentBindingSpec",
    "EnvironmentBindingStatus",
    "EnvironmentStatus",
    "Limits",
    "MemberClusterSpec",
    "MemberClusterStatus",
    "Project",
    "Subject",
    "WorkspaceSpec",
    "parse_quantity",
]
