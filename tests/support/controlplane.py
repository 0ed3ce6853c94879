"""The test-side view of hack/localcluster.py: a handle per cluster with kubectl and API clients.

conftest.py builds one `ControlPlaneHandle` per session (reusing a control plane left running by
`make cluster-up`); tests reach each cluster through its `ClusterHandle`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]


def _load_localcluster() -> ModuleType:
    """Import hack/localcluster.py (a script, not a package) as the module `localcluster`."""
    if (module := sys.modules.get("localcluster")) is not None:
        return module
    spec = importlib.util.spec_from_file_location("localcluster", REPO / "hack" / "localcluster.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["localcluster"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


localcluster = _load_localcluster()


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@dataclass(frozen=True)
class ClusterHandle:
    """One local cluster as tests see it: its name, admin kubeconfig, API server URL and CA."""

    name: str
    kubeconfig: Path
    server: str
    ca_file: Path
    kubectl_bin: Path
    kubectl_cache: Path

    def kubectl(
        self,
        *args: str,
        as_user: str | None = None,
        as_groups: Sequence[str] = (),
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this cluster as admin, or impersonating a user/groups."""
        if as_groups and as_user is None:
            raise ValueError("kubectl impersonates groups only together with a user (as_user=...)")
        cmd = [str(self.kubectl_bin), f"--kubeconfig={self.kubeconfig}", *args]
        if as_user is not None:
            cmd.append(f"--as={as_user}")
        cmd += [f"--as-group={group}" for group in as_groups]
        env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy"}}
        env["KUBECACHEDIR"] = str(self.kubectl_cache)  # removed with .cluster/ by `down`
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
        return result

    def api_client(self) -> client.ApiClient:
        """A new sync client for this cluster as admin (never the library's global default).

        The caller closes it; the `api_client` fixture does so at the end of the test."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def token_client(self, token: str) -> client.ApiClient:
        """A new sync client for this cluster that authenticates with a bearer token only."""
        configuration = client.Configuration()
        configuration.host = self.server
        configuration.ssl_ca_cert = str(self.ca_file)
        configuration.api_key = {"authorization": f"Bearer {token}"}
        return client.ApiClient(configuration)


@dataclass
class ControlPlaneHandle:
    """The session's control plane: its clusters by name, and single-cluster fault switches."""

    plane: Any  # localcluster.ControlPlane
    clusters: dict[str, ClusterHandle]
    started_here: bool

    @classmethod
    def from_state(cls, plane: Any, state: Any, started_here: bool) -> ControlPlaneHandle:
        kubectl_bin = Path(state.bin_dir) / "kubectl"
        cache = Path(state.state_dir) / "kubectl-cache"
        clusters = {
            name: ClusterHandle(
                name=name,
                kubeconfig=Path(c.kubeconfig),
                server=c.url,
                ca_file=c.ca_file,
                kubectl_bin=kubectl_bin,
                kubectl_cache=cache,
            )
            for name, c in state.clusters.items()
        }
        return cls(plane=plane, clusters=clusters, started_here=started_here)

    def __getitem__(self, name: str) -> ClusterHandle:
        return self.clusters[name]

    @property
    def host(self) -> ClusterHandle:
        return self.clusters["host"]

    @property
    def members(self) -> list[ClusterHandle]:
        return [c for name, c in self.clusters.items() if name != "host"]

    def stop_apiserver(self, name: str, graceful: bool = False) -> None:
        """Kill one cluster's API server (SIGKILL, or SIGTERM and drain if `graceful`);
        connections to it are refused until `start_apiserver`."""
        self.plane.stop_apiserver(name, graceful)

    def start_apiserver(self, name: str) -> None:
        """Start it again on the same port with the same certs and data; wait for /readyz."""
        self.plane.start_apiserver(name)

    def pause_apiserver(self, name: str) -> None:
        """Freeze one cluster's API server (SIGSTOP): requests hang instead of failing fast."""
        self.plane.pause_apiserver(name)

    def resume_apiserver(self, name: str) -> None:
        self.plane.resume_apiserver(name)

    def stop_controller_manager(self, name: str) -> None:
        """Stop one cluster's controller manager: no namespace deletion, GC or quota status."""
        self.plane.stop_controller_manager(name)

    def start_controller_manager(self, name: str) -> None:
        self.plane.start_controller_manager(name)
