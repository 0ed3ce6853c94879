"""The pure layer: host records in, the desired objects of every cluster out.

Nothing here imports a Kubernetes client or kopf (an import-linter contract checks it).
"""

from bizdomain.plan.cluster import ClusterPlan, TenantMemo, binding_domain, domain_for_namespace, plan_cluster
from bizdomain.plan.compare import needs_apply
from bizdomain.plan.host import HostPlan, desired_host, domain_trusted, host_namespace_state
from bizdomain.plan.inputs import BindingRecord, DomainRecord, HostNamespaceRecord, MemberRecord, World
from bizdomain.plan.objects import Desired, tenant_labels
from bizdomain.plan.placement import (
    Placement,
    Selection,
    binding_clusters,
    foreign_clusters,
    place,
    selects,
    unknown_clusters,
)
from bizdomain.plan.problems import Problem
from bizdomain.plan.subjects import subject_problems
from bizdomain.plan.tenant import TenantPlan, desired_tenant

__all__ = [
    "BindingRecord",
    "ClusterPlan",
    "Desired",
    "DomainRecord",
    "HostNamespaceRecord",
    "HostPlan",
    "MemberRecord",
    "Placement",
    "Problem",
    "Selection",
    "TenantMemo",
    "TenantPlan",
    "World",
    "binding_clusters",
    "binding_domain",
    "desired_host",
    "desired_tenant",
    "domain_for_namespace",
    "domain_trusted",
    "foreign_clusters",
    "host_namespace_state",
    "needs_apply",
    "place",
    "plan_cluster",
    "selects",
    "subject_problems",
    "tenant_labels",
    "unknown_clusters",
]
