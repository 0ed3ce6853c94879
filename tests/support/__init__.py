"""Helpers shared by the test suites; conftest.py turns them into fixtures.

`controlplane` is the test-side view of hack/localcluster.py (one handle per cluster, kubectl,
API clients); `cleanup` deletes what a test created; `poll` waits with a deadline, never a fixed
sleep.
"""

from support.cleanup import Cleanup
from support.controlplane import ClusterHandle, ControlPlaneHandle, KubectlError, localcluster
from support.poll import is_gone, wait_until

__all__ = [
    "Cleanup",
    "ClusterHandle",
    "ControlPlaneHandle",
    "KubectlError",
    "is_gone",
    "localcluster",
    "wait_until",
]
