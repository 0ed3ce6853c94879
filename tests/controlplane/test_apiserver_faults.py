"""The fault switches the fault tests rely on: one cluster's API server stopped, or frozen, and
brought back with its port, certificates and data, while the other clusters keep answering."""

from __future__ import annotations

import pytest

from support import Cleanup, ClusterHandle, ControlPlaneHandle

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def test_a_stopped_api_server_comes_back_with_its_data(
    control_plane: ControlPlaneHandle,
    dev: ClusterHandle,
    prod: ClusterHandle,
    cleanup: Cleanup,
    unique_name: str,
) -> None:
    ns = cleanup.namespace(dev, unique_name)

    control_plane.faults.stop_apiserver("dev")
    try:
        down = dev.kubectl("get", "namespace", ns, "--request-timeout=5s", check=False)
        assert down.returncode != 0
        assert "refused" in down.stderr
        prod.kubectl("get", "namespace", "default", "--request-timeout=5s")
    finally:
        control_plane.faults.start_apiserver("dev")

    assert dev.kubectl("get", "namespace", ns, "-o", "name").stdout.strip() == f"namespace/{ns}"


def test_a_paused_api_server_times_out_and_recovers(
    control_plane: ControlPlaneHandle, dev: ClusterHandle, prod: ClusterHandle
) -> None:
    control_plane.faults.pause_apiserver("dev")
    try:
        hung = dev.kubectl("get", "namespace", "default", "--request-timeout=1s", check=False)
        assert hung.returncode != 0
        prod.kubectl("get", "namespace", "default", "--request-timeout=5s")
    finally:
        control_plane.faults.resume_apiserver("dev")

    dev.kubectl("get", "namespace", "default", "--request-timeout=10s")
