"""Helpers shared by the test suites; conftest.py turns them into fixtures.

`controlplane` is the test-side view of the local control plane (the `localcluster` package in
hack/: one handle per cluster, kubectl, API clients); `platform` is the operator on it as a
platform engineer sees it; `cleanup` deletes what a test created; `poll` waits with a deadline,
never a fixed sleep.
"""

from localcluster import KubectlError
from support.cleanup import Cleanup
from support.controlplane import ClusterHandle, ControlPlaneHandle
from support.poll import is_gone, wait_until

__all__ = [
    "Cleanup",
    "ClusterHandle",
    "ControlPlaneHandle",
    "KubectlError",
    "is_gone",
    "wait_until",
]
