"""The control plane's recorded state and command lines, without starting anything: state.json
round-trips, a restart runs the identical argv, and every server listens on loopback only."""

from __future__ import annotations

import json
from pathlib import Path

from localcluster import LOOPBACK, Cluster, Process, State
from localcluster.processes import free_ports
from localcluster.servers import CONTROLLERS, etcd_process


def _state(tmp_path: Path) -> State:
    etcd = etcd_process(tmp_path / "bin", tmp_path / "logs", str(tmp_path / "etcd"), 2379, 2380)
    state = State(
        state_dir=str(tmp_path),
        bin_dir=str(tmp_path / "bin"),
        etcd_data_dir=str(tmp_path / "etcd"),
        etcd_client_port=2379,
        etcd_peer_port=2380,
        etcd=etcd,
    )
    api = Process(argv=[str(tmp_path / "bin" / "kube-apiserver"), "--secure-port=6443"], log="api.log", pid=42)
    cm = Process(argv=[str(tmp_path / "bin" / "kube-controller-manager")], log="cm.log")
    state.clusters["dev"] = Cluster("dev", 6443, 10257, str(tmp_path / "dev"), "dev.kubeconfig", api, cm)
    return state


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    state = _state(tmp_path)

    again = State.from_json(json.loads(state.to_json()))

    assert again == state
    assert again.clusters["dev"].apiserver.pid == 42
    assert again.kubectl_bin == tmp_path / "bin" / "kubectl"
    assert again.kubectl_cache == tmp_path / "kubectl-cache"


def test_servers_stop_controller_managers_first_and_etcd_last(tmp_path: Path) -> None:
    state = _state(tmp_path)

    cms, apis, etcd = state.stop_order()

    assert [p.binary.rsplit("/", 1)[-1] for p in cms] == ["kube-controller-manager"]
    assert [p.binary.rsplit("/", 1)[-1] for p in apis] == ["kube-apiserver"]
    assert etcd == [state.etcd]


def test_etcd_listens_on_loopback_only(tmp_path: Path) -> None:
    etcd = etcd_process(tmp_path, tmp_path, str(tmp_path / "data"), 1, 2)

    urls = [arg.split("=", 1)[1] for arg in etcd.argv if arg.startswith(("--listen-", "--advertise-"))]

    assert urls
    assert all(url.startswith(f"http://{LOOPBACK}:") for url in urls)
    assert "namespace-controller" in CONTROLLERS


def test_free_ports_are_distinct() -> None:
    ports = free_ports(5)

    assert len(set(ports)) == 5
