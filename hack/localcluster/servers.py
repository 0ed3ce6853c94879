"""The exact command lines of etcd, each kube-apiserver and each kube-controller-manager.

`etcd_process` and `new_cluster` build the recorded `Process`es (and a new cluster's PKI and
kubeconfigs); :mod:`localcluster.plane` starts them and records them in state.json, so a restart
by :mod:`localcluster.faults` runs the identical argv.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from localcluster.pki import make_pki, write_kubeconfig
from localcluster.processes import LOOPBACK, Process, free_ports
from localcluster.state import Cluster, State

__all__ = ["CONTROLLERS", "SERVICE_CLUSTER_IP_RANGE", "etcd_process", "new_cluster"]

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"  # a range string only; nothing routes there
# kube-controller-manager v1.37 names (`kube-controller-manager --help`, --controllers).
CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "resourcequota-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "clusterrole-aggregation-controller",
    "root-ca-certificate-publisher-controller",
)


def etcd_process(bin_dir: Path, logs: Path, data_dir: str, client: int, peer: int) -> Process:
    """The one etcd, on loopback, without fsync (test data)."""
    peer_url, client_url = f"http://{LOOPBACK}:{peer}", f"http://{LOOPBACK}:{client}"
    return Process(
        argv=[
            str(bin_dir / "etcd"),
            "--name=bizdomain",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=bizdomain={peer_url}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        log=str(logs / "etcd.log"),
    )


def _apiserver(state: State, logs: Path, pki: Path, name: str, port: int) -> Process:
    bin_dir = Path(state.bin_dir)
    return Process(
        argv=[
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers={state.etcd_url}",
            f"--etcd-prefix=/registry-{name}",
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'serving.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer=https://{LOOPBACK}:{port}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints
            # validation refuses (loopback): do not reconcile them at all.
            "--endpoint-reconciler-type=none",
        ],
        log=str(logs / f"{name}-kube-apiserver.log"),
    )


def _controller_manager(bin_dir: Path, logs: Path, pki: Path, name: str, port: int) -> Process:
    kubeconfig = pki / "controller-manager.kubeconfig"
    return Process(
        argv=[
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'serving.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authentication-skip-lookup",  # no front proxy: no request-header CA to look up
            f"--controllers={','.join(CONTROLLERS)}",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--cluster-name={name}",
        ],
        log=str(logs / f"{name}-kube-controller-manager.log"),
    )


def new_cluster(state: State, state_dir: Path, name: str) -> Cluster:
    """A new cluster `name` on `state`'s etcd: fresh PKI, two free ports, admin and controller
    manager kubeconfigs (nothing is started here)."""
    bin_dir = Path(state.bin_dir)
    pki = state_dir / name
    shutil.rmtree(pki, ignore_errors=True)
    make_pki(pki, name)
    port, cm_port = free_ports(2)
    logs = state_dir / "logs"
    cluster = Cluster(
        name=name,
        port=port,
        controller_manager_port=cm_port,
        dir=str(pki),
        kubeconfig=str(state_dir / f"{name}.kubeconfig"),
        apiserver=_apiserver(state, logs, pki, name, port),
        controller_manager=_controller_manager(bin_dir, logs, pki, name, cm_port),
    )
    write_kubeconfig(Path(cluster.kubeconfig), cluster, "admin", f"{name}-admin")
    write_kubeconfig(
        pki / "controller-manager.kubeconfig", cluster, "controller-manager", "system:kube-controller-manager"
    )
    return cluster
