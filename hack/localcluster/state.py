"""What the local control plane started, as recorded in <state dir>/state.json.

`State` holds etcd and, per cluster, a `Cluster` (its kube-apiserver and kube-controller-manager
with the exact argv of each, so a restart is identical). Written and read by
:mod:`localcluster.plane`; read by the test fixtures and the benchmark for kubeconfigs, URLs and
the pinned kubectl.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from localcluster.processes import LOOPBACK, Process

__all__ = ["Cluster", "State"]


@dataclass
class Cluster:
    """One cluster: a kube-apiserver and a kube-controller-manager sharing the one etcd."""

    name: str
    port: int
    controller_manager_port: int
    dir: str
    kubeconfig: str
    apiserver: Process
    controller_manager: Process

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def etcd_prefix(self) -> str:
        return f"/registry-{self.name}"

    @property
    def ca_file(self) -> Path:
        return Path(self.dir) / "ca.crt"

    @property
    def admin_cert(self) -> tuple[Path, Path]:
        return Path(self.dir) / "admin.crt", Path(self.dir) / "admin.key"

    def processes(self) -> list[Process]:
        return [self.controller_manager, self.apiserver]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cluster:
        data = dict(data)
        data["apiserver"] = Process(**data["apiserver"])
        data["controller_manager"] = Process(**data["controller_manager"])
        return cls(**data)


@dataclass
class State:
    """Everything `up` started, as recorded in .cluster/state.json."""

    state_dir: str
    bin_dir: str
    etcd_data_dir: str
    etcd_client_port: int
    etcd_peer_port: int
    etcd: Process
    clusters: dict[str, Cluster] = field(default_factory=dict)
    # "cli": started or adopted by `up`, kept until `down`. "sessions": started by a test session's
    # `attach`, stopped by the last `detach` (the pids of the attached sessions are in `sessions`).
    owner: str = "cli"
    sessions: list[int] = field(default_factory=list)

    @property
    def etcd_url(self) -> str:
        return f"http://{LOOPBACK}:{self.etcd_client_port}"

    @property
    def kubectl_bin(self) -> Path:
        """The pinned kubectl the clusters were started beside."""
        return Path(self.bin_dir) / "kubectl"

    @property
    def kubectl_cache(self) -> Path:
        """kubectl's discovery cache for these clusters (removed with the state directory)."""
        return Path(self.state_dir) / "kubectl-cache"

    def stop_order(self) -> list[list[Process]]:
        """Every process in groups to stop one after the other: controller managers, API servers,
        then etcd (an API server whose etcd is gone hangs in its shutdown)."""
        cms = [c.controller_manager for c in self.clusters.values()]
        apis = [c.apiserver for c in self.clusters.values()]
        return [cms, apis, [self.etcd]]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        data = dict(data)
        data["etcd"] = Process(**data["etcd"])
        data["clusters"] = {k: Cluster.from_json(v) for k, v in data["clusters"].items()}
        return cls(**data)
