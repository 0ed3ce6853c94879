"""The operator on the local control plane, as the tests and the benchmark run it.

`OperatorProcess` runs `python -m bizdomain` as a subprocess (restartable, killable; its RSS,
CPU and Prometheus samples readable); `install_platform` does what `helm install` and
`bizdomain join` do; `join_member` is one `bizdomain join`; `wait_quota_counts` waits until
Kubernetes' quota controller counts a kind. Used by tests/conftest.py, tests/chart and bench/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bizdomain import names
from localcluster.errors import ControlPlaneError
from localcluster.kubectl import kubectl
from localcluster.plane import REPO
from localcluster.processes import free_port
from localcluster.state import State

__all__ = ["NAMESPACE", "OperatorProcess", "install_platform", "join_member", "wait_quota_counts"]

NAMESPACE = "bizdomain-system"
Kubectl = Callable[..., str]  # kubectl(*args, check=True) -> stdout


@dataclass
class OperatorProcess:
    """One `python -m bizdomain` against the host in `kubeconfig`, output to `log_path`."""

    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    verbose: bool = True
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0

    def start(self) -> None:
        """Start it (again) in its own session, with a fresh metrics port."""
        self.metrics_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env}
        argv = [sys.executable, "-m", "bizdomain", "--metrics-port", str(self.metrics_port)]
        argv += [*(["--verbose"] if self.verbose else []), *self.extra_args]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Send `sig` (SIGTERM: a clean shutdown), SIGKILL after `timeout`; wait until it is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ControlPlaneError("the operator is not running")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def memory_kib(self) -> tuple[int, int]:
        """(VmHWM, VmRSS) in KiB: the peak and current resident set."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
        return values["VmHWM"], values["VmRSS"]

    def cpu_seconds(self) -> float:
        """User plus system CPU time the operator has used so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metrics(self, *only: str, **labels: str) -> dict[str, float]:
        """The operator's own Prometheus samples (`bizdomain_*`) that carry `labels`, summed over
        every other label; with `only`, just those metrics (the exporter's `name[]` filter: a poll
        every second must not make the operator render every series, its budget gauges included)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        query = urllib.parse.urlencode([("name[]", name) for name in only])
        url = f"http://127.0.0.1:{self.metrics_port}/metrics" + (f"?{query}" if query else "")
        with opener.open(url, timeout=10) as response:
            text = response.read().decode()
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        out: dict[str, float] = {}
        for line in text.splitlines():
            if not line.startswith("bizdomain_"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            if name.endswith(("_bucket", "_created")) or not all(w in name_labels for w in wanted):
                continue
            out[name] = out.get(name, 0.0) + float(value)
        return out

    def objects_created(self) -> float:
        """Member objects the operator has created so far (`bizdomain_objects_total`)."""
        return self.metrics("bizdomain_objects_total", action="created").get("bizdomain_objects_total", 0.0)


def wait_quota_counts(kubectl: Kubectl, resource: str, timeout: float = 90.0) -> float:
    """Wait until the quota controller counts `resource` (e.g. `count/widgets.example.com`), and
    return how long that took. It learns a CRD's kinds by polling discovery every 30 s, and a
    ResourceQuota made before that is counted only at its next full resync (5 min): until then the
    API server refuses every create it limits ("status unknown for quota"). Made once after the
    CRDs are installed, this probe (a quota in `default`, deleted again) tells when new quotas are
    counted at once. `kubectl(*args, check=...)` runs kubectl against the cluster (stdout)."""
    start = time.monotonic()
    for attempt in range(int(timeout)):
        name = f"quota-probe-{attempt}"
        kubectl("create", "quota", name, "-n", "default", f"--hard={resource}=1000000")
        try:
            for _ in range(10):
                out = kubectl("get", "quota", name, "-n", "default", "-o", "json")
                if resource in ((json.loads(out).get("status") or {}).get("used") or {}):
                    return time.monotonic() - start
                time.sleep(0.2)
        finally:
            kubectl("delete", "quota", name, "-n", "default", "--wait=false", check=False)
        if time.monotonic() - start > timeout:
            break
    raise ControlPlaneError(f"the quota controller did not count {resource} within {timeout:.0f}s")


def join_member(
    host_kubeconfig: Path,
    member_kubeconfig: Path,
    name: str,
    environments: Sequence[str],
    *,
    namespace: str = NAMESPACE,
    extra: Sequence[str] = (),
) -> None:
    """`bizdomain join`: member `name` serving `environments`, registered on the host (`extra`:
    more arguments of `bizdomain join`)."""
    cmd = [
        sys.executable, "-m", "bizdomain.cli", "join",
        "--host-kubeconfig", str(host_kubeconfig), "--member-kubeconfig", str(member_kubeconfig),
        "--name", name, "--namespace", namespace,
        *(arg for env in environments for arg in ("--environment", env)), *extra,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if result.returncode:
        raise ControlPlaneError(f"bizdomain join {name} failed: {result.stderr.strip()}")


def install_platform(state: State, members: Mapping[str, Sequence[str]], namespace: str = NAMESPACE) -> None:
    """What `helm install` does on the host (CRDs, the operator namespace, the domain-owner role),
    then `bizdomain join` for every member in `members` with the environments it serves."""

    def host(*args: str, check: bool = True) -> str:
        return kubectl(state, "host", *args, check=check).stdout

    host("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    for plural in (
        names.PLURAL_DOMAIN,
        names.PLURAL_BINDING,
        names.PLURAL_MEMBER,
        names.PLURAL_WORKSPACE,
        names.PLURAL_SANDBOX,
    ):
        host("wait", "--for=condition=Established", f"crd/{plural}.{names.GROUP}", "--timeout=60s")
    # Bindings are capped by a quota in each domain namespace: wait until new quotas are counted.
    wait_quota_counts(host, names.BINDING_COUNT_RESOURCE)
    host("create", "namespace", namespace, check=False)
    host("apply", "-f", str(REPO / "charts/bizdomain/files/domain-owner-clusterrole.yaml"))
    host("apply", "-f", str(REPO / "charts/bizdomain/files/budget-policy.yaml"))
    host("apply", "-f", str(REPO / "charts/bizdomain/files/sandbox-creator-clusterrole.yaml"))
    host("apply", "-f", str(REPO / "charts/bizdomain/files/sandbox-policy.yaml"))
    host_kubeconfig = Path(state.clusters["host"].kubeconfig)
    for member, environments in members.items():
        join_member(host_kubeconfig, Path(state.clusters[member].kubeconfig), member, environments, namespace=namespace)
