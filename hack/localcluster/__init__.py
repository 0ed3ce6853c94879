"""A real multi-cluster Kubernetes control plane on loopback, without Docker.

One etcd, and per cluster a kube-apiserver (its own etcd prefix, port, CA, admin client
certificate and service-account keys) plus a kube-controller-manager running the controllers a
namespace/RBAC/quota operator relies on (namespace, garbage collector, resource quota, service
accounts and their tokens, cluster-role aggregation, kube-root-ca.crt publishing). No kubelet, no
scheduler: pods are admitted and stored but never run. Everything listens on 127.0.0.1 only.

Who calls it:
  * `make cluster-up` / `make cluster-down` through `python -m localcluster` (:mod:`.cli`);
  * the pytest fixtures (tests/conftest.py, tests/support) through `ControlPlane.attach`, and
    fault tests through `Faults` (one cluster's API server stopped, frozen, started again);
  * the benchmark (bench/cluster.py), with a plane in a state directory of its own.
:mod:`localcluster.harness` runs the operator on it (shared by the tests and the benchmark).

Modules: :mod:`.processes` (spawn, stop, ports), :mod:`.state` (state.json), :mod:`.pki`
(certificates, kubeconfigs), :mod:`.servers` (the exact argv of each server), :mod:`.readiness`
(health checks), :mod:`.plane` (`ControlPlane`: up, attach, detach, down, under a lock),
:mod:`.faults`, :mod:`.kubectl`, :mod:`.cli`.

Binaries come from $BIZDOMAIN_BIN_DIR, else from `hack/build-binaries.sh --dir`. State lives in
<repo>/.cluster/: per cluster a directory with its PKI, `<name>.kubeconfig` (admin), logs/ and
state.json (pids, ports, the exact argv of every process so a restart is identical). Processes
run in their own session with output in log files, so they outlive the `make` that started them.

The control plane is standard library only, plus the `openssl` command line for the certificates;
the harness also reads bizdomain's names (CRD plurals, the binding quota).
"""

from localcluster.errors import ControlPlaneError
from localcluster.faults import Faults
from localcluster.kubectl import KubectlError, kubectl, run_kubectl
from localcluster.plane import DEFAULT_STATE_DIR, REPO, ControlPlane, default_bin_dir
from localcluster.processes import LOOPBACK, Process, free_port
from localcluster.servers import CONTROLLERS
from localcluster.state import Cluster, State

__all__ = [
    "CONTROLLERS",
    "DEFAULT_STATE_DIR",
    "LOOPBACK",
    "REPO",
    "Cluster",
    "ControlPlane",
    "ControlPlaneError",
    "Faults",
    "KubectlError",
    "Process",
    "State",
    "default_bin_dir",
    "free_port",
    "kubectl",
    "run_kubectl",
]
