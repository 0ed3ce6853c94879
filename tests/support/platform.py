"""The operator, running for real against the local control plane, as tests see it.

`OperatorProcess` runs `python -m bizdomain` as a subprocess (restartable, killable);
`Platform` is the host and members as a platform engineer sees them, with helpers to apply,
read and wait; `install_platform` does what `helm install` and `bizdomain join` do. The
session fixtures `platform` and `make_domain` (tests/conftest.py) are built on these: one
operator per test session, shared by the e2e and fault suites.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from support.controlplane import ClusterHandle, ControlPlaneHandle, KubectlError, localcluster
from support.poll import wait_until

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "bizdomain-system"
MEMBERS = ("dev", "prod")
HOST_QUOTA = "bizdomain-bindings"
QUOTA_NOT_COUNTED = "status unknown for quota"
BINDING_COUNT = "count/environmentbindings.bizdomain.io"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OperatorProcess:
    """One `python -m bizdomain` subprocess; restartable and killable by the tests."""

    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    extra_args: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.metrics_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bizdomain",
                    "--metrics-port",
                    str(self.metrics_port),
                    "--verbose",
                    *self.extra_args,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
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

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Platform:
    """The host and members as a platform engineer sees them, with the operator running."""

    plane: ControlPlaneHandle
    operator: OperatorProcess

    @property
    def host(self) -> ClusterHandle:
        return self.plane["host"]

    def member(self, name: str) -> ClusterHandle:
        return self.plane[name]

    def apply(self, *docs: dict[str, Any], cluster: str = "host") -> None:
        """`kubectl apply`, tried again (as GitOps would) while a new domain namespace's binding quota
        is not counted yet: the API server refuses new bindings there until the quota controller did."""
        text = "\n---\n".join(yaml.safe_dump(d, allow_unicode=True) for d in docs)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.plane[cluster].kubectl("apply", "-f", "-", input=text)
                return
            except KubectlError as exc:
                if QUOTA_NOT_COUNTED not in exc.stderr or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def get(self, kind: str, name: str, namespace: str | None = None, cluster: str = "host") -> dict[str, Any] | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["-n", namespace]
        out = self.plane[cluster].kubectl(*args).stdout
        return json.loads(out) if out.strip() else None

    def delete(
        self, kind: str, name: str, namespace: str | None = None, cluster: str = "host", wait: bool = True
    ) -> None:
        args = ["delete", kind, name, "--ignore-not-found", f"--wait={'true' if wait else 'false'}", "--timeout=120s"]
        if namespace:
            args += ["-n", namespace]
        self.plane[cluster].kubectl(*args)

    def condition(self, obj: dict[str, Any] | None, type_: str = "Ready") -> dict[str, Any]:
        for c in ((obj or {}).get("status") or {}).get("conditions") or []:
            if c.get("type") == type_:
                return dict(c)
        return {}

    def wait_ready_condition(
        self, kind: str, name: str, namespace: str | None = None, *, timeout: float = 60, **want: str
    ) -> dict[str, Any]:
        """The object once its Ready condition, for its current generation, has every ``want`` field."""

        def check() -> dict[str, Any] | None:
            obj = self.get(kind, name, namespace)
            cond = self.condition(obj)
            current = cond.get("observedGeneration") == (obj or {}).get("metadata", {}).get("generation")
            return obj if current and all(cond.get(k) == v for k, v in want.items()) else None

        return wait_until(check, timeout=timeout, interval=0.25, what=f"{kind} {name} Ready with {want}")

    def wait_domain_ready(self, name: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_ready_condition("businessdomain", name, timeout=timeout, status="True")

    def wait_domain_bound(self, name: str, envs: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
        """The domain once Ready in exactly ``envs``, every cluster of them Ready (a domain is also
        Ready before its first binding arrives, bound nowhere yet)."""

        def check() -> dict[str, Any] | None:
            obj = self.get("businessdomain", name)
            cond = self.condition(obj)
            summary = ((obj or {}).get("status") or {}).get("summary") or {}
            bound = {e for e in str(summary.get("environments") or "").split(",") if e}
            done, _, total = str(summary.get("clusters") or "0/0").partition("/")
            current = cond.get("observedGeneration") == (obj or {}).get("metadata", {}).get("generation")
            ready = current and cond.get("status") == "True" and bound == set(envs) and done == total
            return obj if ready else None

        return wait_until(check, timeout=timeout, interval=0.25, what=f"domain {name} Ready in {envs}")

    def wait_domain_not_ready(self, name: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_ready_condition("businessdomain", name, timeout=timeout, status="False")

    def wait_binding(self, domain: str, env: str, status: str = "True", timeout: float = 60) -> dict[str, Any]:
        return self.wait_ready_condition("environmentbinding", env, f"domain-{domain}", timeout=timeout, status=status)

    def wait_reason(self, domain: str, env: str, reason: str, timeout: float = 60) -> dict[str, Any]:
        """The binding once its Ready condition (for the current generation) has ``reason``."""
        return self.wait_ready_condition("environmentbinding", env, f"domain-{domain}", timeout=timeout, reason=reason)

    def wait_host_namespace(self, domain: str, timeout: float = 60) -> None:
        """Until the operator made the domain's host namespace, and its binding quota is counted:
        until Kubernetes' quota controller has counted it, the API server refuses every new binding
        there ("status unknown for quota"); right after the CRDs were installed, the controller
        takes up to 30 s to learn the kind at all."""
        wait_until(
            lambda: self.get("namespace", f"domain-{domain}"), timeout=timeout, what=f"host namespace of {domain}"
        )

        def counted() -> bool:
            quota = self.get("resourcequota", HOST_QUOTA, f"domain-{domain}") or {}
            return BINDING_COUNT in ((quota.get("status") or {}).get("used") or {})

        wait_until(counted, timeout=timeout, interval=0.25, what=f"the binding quota of {domain} counted")


def wait_binding_quota_counted(host: ClusterHandle) -> None:
    """Bindings are capped by a quota in each domain namespace: wait until new quotas are counted
    (once after the CRDs are installed; see localcluster.wait_quota_counts)."""
    localcluster.wait_quota_counts(lambda *args, check=True: host.kubectl(*args, check=check).stdout, BINDING_COUNT)


def install_platform(plane: ControlPlaneHandle) -> None:
    """What `helm install` does on the host, and `bizdomain join` for every local member."""
    host = plane["host"]
    host.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    for crd in ("businessdomains", "environmentbindings", "memberclusters", "workspaces", "sandboxes"):
        host.kubectl("wait", "--for=condition=Established", f"crd/{crd}.bizdomain.io", "--timeout=60s")
    wait_binding_quota_counted(host)
    host.kubectl("create", "namespace", NAMESPACE, check=False)
    host.kubectl("apply", "-f", str(ROOT / "charts/bizdomain/files/domain-owner-clusterrole.yaml"))
    host.kubectl("apply", "-f", str(ROOT / "charts/bizdomain/files/budget-policy.yaml"))
    host.kubectl("apply", "-f", str(ROOT / "charts/bizdomain/files/sandbox-creator-clusterrole.yaml"))
    host.kubectl("apply", "-f", str(ROOT / "charts/bizdomain/files/sandbox-policy.yaml"))
    for name in MEMBERS:
        subprocess.run(
            [
                sys.executable, "-m", "bizdomain.cli", "join",
                "--host-kubeconfig", str(host.kubeconfig),
                "--member-kubeconfig", str(plane[name].kubeconfig),
                "--name", name, "--environment", name, "--namespace", NAMESPACE,
            ],
            check=True, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip


def domain_doc(name: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "displayName": f"领域 {name}",
        "owners": [{"kind": "User", "name": f"{name}-owner@example.com"}],
        "departments": [
            {"name": "backend", "members": [{"kind": "Group", "name": f"{name}-backend"}]},
            {"name": "sre", "members": [{"kind": "Group", "name": f"{name}-sre"}]},
        ],
        "quota": {"requests.cpu": "4", "pods": "20"},
        "limits": {"default": {"cpu": "500m", "memory": "256Mi"}},
    }
    base.update(spec)
    return {"apiVersion": "bizdomain.io/v1alpha1", "kind": "BusinessDomain", "metadata": {"name": name}, "spec": base}


def binding_doc(domain: str, env: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "environment": env,
        "access": [
            {"department": "backend", "role": "developer" if env == "dev" else "viewer"},
            {"department": "sre", "role": "admin"},
        ],
        "deployers": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}],
    }
    base.update(spec)
    return {
        "apiVersion": "bizdomain.io/v1alpha1",
        "kind": "EnvironmentBinding",
        "metadata": {"name": env, "namespace": f"domain-{domain}"},
        "spec": base,
    }
