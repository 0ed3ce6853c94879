"""The I/O layer: converge a cluster on its plan with server-side apply, and prune what we own."""

from bizdomain.sync.engine import ClusterReport, TenantOutcome, sync_cluster

__all__ = ["ClusterReport", "TenantOutcome", "sync_cluster"]
