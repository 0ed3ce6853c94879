"""The test-side view of the local control plane (hack/localcluster): a handle per cluster with
kubectl and API clients.

conftest.py builds one `ControlPlaneHandle` per session (reusing a control plane left running by
`make cluster-up`); tests reach each cluster through its `ClusterHandle`, and stop or start one
cluster's servers through `control_plane.faults` (a `localcluster.Faults`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from localcluster import ControlPlane, Faults, State, run_kubectl


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
        return run_kubectl(
            self.kubectl_bin,
            self.kubeconfig,
            self.kubectl_cache,
            *args,
            as_user=as_user,
            as_groups=as_groups,
            input=input,
            check=check,
            timeout=timeout,
        )

    def api_client(self) -> client.ApiClient:
        """A new sync client for this cluster as admin (never the library's global default).

        The caller closes it; the `api_client` fixture does so at the end of the test."""
        api: client.ApiClient = config.new_client_from_config(config_file=str(self.kubeconfig))
        return api

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

    plane: ControlPlane
    state: State
    faults: Faults
    clusters: dict[str, ClusterHandle]
    started_here: bool

    @classmethod
    def from_state(cls, plane: ControlPlane, state: State, started_here: bool) -> ControlPlaneHandle:
        kubectl_bin, cache = state.kubectl_bin, state.kubectl_cache
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
        return cls(plane=plane, state=state, faults=Faults(plane), clusters=clusters, started_here=started_here)

    def __getitem__(self, name: str) -> ClusterHandle:
        return self.clusters[name]

    @property
    def host(self) -> ClusterHandle:
        return self.clusters["host"]

    @property
    def members(self) -> list[ClusterHandle]:
        return [c for name, c in self.clusters.items() if name != "host"]
