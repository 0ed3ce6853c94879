"""The I/O layer: converge a cluster on its plan with server-side apply, and prune what we own."""

from bizdomain.sync.engine import sync_cluster
from bizdomain.sync.report import ClusterReport, TenantOutcome

__all__ = ["ClusterReport", "TenantOutcome", "sync_cluster"]
