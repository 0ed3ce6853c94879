"""Single-component faults: one cluster's kube-apiserver stopped (killed or drained), frozen and
thawed, or its kube-controller-manager stopped, and each brought back with the same argv, port,
certificates and data.

`Faults` is the one way tests stop and start a server: tests/controlplane reach it as
`control_plane.faults`, and the fault suite's `faults` fixture (tests/faults/conftest.py) is a
`Faults` that also undoes what a test injected.
"""

from __future__ import annotations

import os
import signal

from localcluster import processes
from localcluster.errors import ControlPlaneError
from localcluster.plane import ControlPlane
from localcluster.readiness import apiserver_ready

__all__ = ["GRACEFUL_STOP_TIMEOUT", "Faults"]

GRACEFUL_STOP_TIMEOUT = 90.0  # an API server drains open watches for up to its 60 s shutdown timeout
_APISERVER, _CONTROLLER_MANAGER = "apiserver", "controller_manager"


class Faults:
    """Fault switches on the servers of one `ControlPlane`."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def stop_apiserver(self, name: str, graceful: bool = False) -> None:
        """Stop one cluster's kube-apiserver; its port, certs and etcd data stay for a restart.

        By default it is killed (SIGKILL), as in a crash: clients see refused connections at
        once. `graceful=True` sends SIGTERM and waits; with clients watching (a controller
        manager, an operator) the API server drains for its full shutdown timeout (~60 s)."""
        self._stop_one(name, _APISERVER, GRACEFUL_STOP_TIMEOUT if graceful else 0)

    def start_apiserver(self, name: str, wait: bool = True) -> None:
        """Start one cluster's kube-apiserver again with the identical argv; wait for /readyz."""
        with self.plane.locked():
            state = self.plane.require_state()
            cluster = state.clusters[name]
            if not cluster.apiserver.running():
                processes.spawn(cluster.apiserver)
                self.plane.save(state)
            if wait:
                what = f"{name} kube-apiserver /readyz"
                self.plane.wait_for(what, [cluster.apiserver], lambda: apiserver_ready(cluster))

    def pause_apiserver(self, name: str) -> None:
        """Freeze one kube-apiserver (SIGSTOP): connections open but nothing answers."""
        os.kill(self._running_pid(name, _APISERVER), signal.SIGSTOP)

    def resume_apiserver(self, name: str) -> None:
        """Thaw an API server frozen by `pause_apiserver` (SIGCONT)."""
        os.kill(self._running_pid(name, _APISERVER), signal.SIGCONT)

    def stop_controller_manager(self, name: str) -> None:
        """Stop one cluster's kube-controller-manager (no namespace deletion, GC, quota status)."""
        self._stop_one(name, _CONTROLLER_MANAGER, processes.STOP_TIMEOUT)

    def start_controller_manager(self, name: str) -> None:
        """Start one cluster's kube-controller-manager again; wait until the cluster is usable."""
        with self.plane.locked():
            self.plane.wait_usable(self.plane.require_state(), [name])

    def _stop_one(self, name: str, component: str, timeout: float) -> None:
        with self.plane.locked():
            state = self.plane.require_state()
            cluster = state.clusters[name]
            processes.stop([cluster.apiserver if component == _APISERVER else cluster.controller_manager], timeout)
            self.plane.save(state)

    def _running_pid(self, name: str, component: str) -> int:
        cluster = self.plane.cluster(name)
        proc = cluster.apiserver if component == _APISERVER else cluster.controller_manager
        if not proc.running():
            raise ControlPlaneError(f"{name} {component} is not running")
        return proc.pid
