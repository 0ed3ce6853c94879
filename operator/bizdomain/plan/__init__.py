"""The pure layer: host records in, the desired objects of every cluster out.

Nothing here imports a Kubernetes client or kopf (an import-linter contract checks it).
"""

from bizdomain.plan.cluster import (
    ClusterPlan,
    binding_clusters,
    binding_domain,
    domain_for_namespace,
    plan_cluster,
    selects,
    unknown_clusters,
)
from bizdomain.plan.compare import needs_apply
from bizdomain.plan.host import desired_host
from bizdomain.plan.inputs import BindingRecord, DomainRecord, MemberRecord, World
from bizdomain.plan.objects import Desired, tenant_labels
from bizdomain.plan.tenant import Problem, TenantPlan, desired_tenant, workspace_name

__all__ = [
    "BindingRecord",
    "ClusterPlan",
    "Desired",
    "DomainRecord",
    "MemberRecord",
    "Problem",
    "TenantPlan",
    "World",
    "binding_clusters",
    "binding_domain",
    "desired_host",
    "desired_tenant",
    "domain_for_namespace",
    "needs_apply",
    "plan_cluster",
    "selects",
    "tenant_labels",
    "unknown_clusters",
    "workspace_name",
]
