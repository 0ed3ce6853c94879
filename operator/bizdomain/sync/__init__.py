"""The I/O layer: converge a cluster on its plan with server-side apply, and prune what we own."""

from bizdomain.report import ClusterReport, TenantOutcome
from bizdomain.sync.engine import sync_cluster

__all__ = ["ClusterReport", "TenantOutcome", "sync_cluster"]
