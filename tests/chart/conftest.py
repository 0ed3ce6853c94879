"""The Helm chart on the real host API server: rendering, a release, and the operator run with the
chart's ServiceAccount and nothing else.

`chart_release` (package) installs charts/bizdomain into a namespace of its own and uninstalls it
at the end; `member` (package) joins the local dev cluster as a MemberCluster of that release with
`bizdomain join`; `sa_kubeconfig` mints a token for the chart's ServiceAccount (TokenRequest API)
and writes a kubeconfig around it, so that `operators` runs `python -m bizdomain` with exactly the
chart's RBAC on the host. Every cluster-scoped name carries the release's unique name, except the
ClusterRole and the budget admission policy the chart keeps under fixed names (bizdomain.io:domain-owner,
bizdomain-budgets), which the release adopts.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import default_bin_dir
from localcluster.harness import OperatorProcess, join_member
from support import ClusterHandle, ControlPlaneHandle, wait_until
from support.platform import Platform, binding_doc, domain_doc, wait_binding_quota_counted

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "bizdomain"
DOMAIN_OWNER_ROLE = "bizdomain.io:domain-owner"
# Cluster-scoped objects the chart keeps under fixed names (one per host, whatever the release).
FIXED_NAMES = (
    ("clusterrole", DOMAIN_OWNER_ROLE),
    ("validatingadmissionpolicy", "bizdomain-budgets"),
    ("validatingadmissionpolicybinding", "bizdomain-budgets"),
    ("clusterrole", "bizdomain.io:sandbox-creator"),
    ("validatingadmissionpolicy", "bizdomain-sandboxes"),
    ("validatingadmissionpolicybinding", "bizdomain-sandboxes"),
)


def helm_binary() -> Path:
    return default_bin_dir() / "helm"


def helm(*args: str, kubeconfig: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the pinned helm (against `kubeconfig` when given)."""
    cmd = [str(helm_binary()), *args]
    if kubeconfig is not None:
        cmd.append(f"--kubeconfig={kubeconfig}")
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy"}}
    # Never the user's helm configuration or repositories: a home of the tests' own.
    home = Path(tempfile.gettempdir()) / f"bizdomain-helm-{os.getuid()}"
    for kind in ("CACHE", "CONFIG", "DATA"):
        env[f"HELM_{kind}_HOME"] = str(home / kind.lower())
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def render(*values: str, release: str = "bizdomain", namespace: str = "bizdomain-system") -> list[dict[str, Any]]:
    """`helm template` with `--set` values, as parsed objects."""
    sets = [arg for value in values for arg in ("--set", value)]
    out = helm("template", release, str(CHART), "--namespace", namespace, *sets).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


@dataclass
class Release:
    """A release of the chart on the host: its name, namespace and the names it renders."""

    host: ClusterHandle
    name: str
    namespace: str

    @property
    def fullname(self) -> str:
        return f"{self.name}-bizdomain"

    @property
    def service_account(self) -> str:
        return self.fullname

    @property
    def lease(self) -> str:
        return f"{self.fullname}-leader"

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return helm(*args, kubeconfig=self.host.kubeconfig, check=check)

    def install(self, *values: str) -> None:
        adopt_domain_owner_role(self.host, self.name, self.namespace)
        sets = [arg for value in values for arg in ("--set", value)]
        self.helm("install", self.name, str(CHART), "--namespace", self.namespace, "--create-namespace", *sets)

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--namespace", self.namespace, "--wait", "--timeout=60s")

    def get(self, kind: str, name: str, namespaced: bool = True) -> dict[str, Any] | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
        if namespaced:
            args += ["-n", self.namespace]
        out = self.host.kubectl(*args).stdout
        return json.loads(out) if out.strip() else None


def adopt_domain_owner_role(host: ClusterHandle, release: str, namespace: str) -> None:
    """Let `release` own the fixed-name domain-owner ClusterRole and budget admission policy if
    something else applied them (the e2e platform does, with kubectl; a crashed session may have
    left its release's)."""
    for kind, name in FIXED_NAMES:
        if host.kubectl("get", kind, name, "--ignore-not-found", "-o", "name").stdout.strip():
            host.kubectl("label", "--overwrite", kind, name, "app.kubernetes.io/managed-by=Helm")
            host.kubectl(
                "annotate", "--overwrite", kind, name,
                f"meta.helm.sh/release-name={release}", f"meta.helm.sh/release-namespace={namespace}",
            )  # fmt: skip


@pytest.fixture(scope="package")
def chart_release(control_plane: ControlPlaneHandle) -> Iterator[Release]:
    """The chart installed on the host with its defaults, in a namespace of its own."""
    suffix = secrets.token_hex(3)
    release = Release(control_plane["host"], name=f"bzc{suffix}", namespace=f"bzc-{suffix}")
    release.install()
    wait_binding_quota_counted(release.host)  # helm installed the CRDs: as install_platform does
    try:
        yield release
    finally:
        release.helm("uninstall", release.name, "--namespace", release.namespace, "--wait", check=False)
        release.host.kubectl("delete", "namespace", release.namespace, "--ignore-not-found", "--wait=false")


@dataclass(frozen=True)
class Member:
    """A MemberCluster of the release, joined with `bizdomain join`: its name and environment."""

    name: str
    environment: str
    cluster: ClusterHandle


@pytest.fixture(scope="package")
def member(control_plane: ControlPlaneHandle, chart_release: Release) -> Iterator[Member]:
    """The local dev cluster as a member serving an environment of the release's own, so no other
    suite's bindings land on it; its kubeconfig Secret is in the release namespace."""
    member = Member(name=chart_release.name, environment=chart_release.name, cluster=control_plane["dev"])
    host = chart_release.host
    join_member(
        host.kubeconfig, member.cluster.kubeconfig, member.name, [member.environment], namespace=chart_release.namespace
    )
    yield member
    host.kubectl("delete", "membercluster", member.name, "--ignore-not-found", "--wait=false")


def write_sa_kubeconfig(release: Release, path: Path) -> Path:
    """A kubeconfig for the release's ServiceAccount: a fresh TokenRequest token, the host's server
    and CA, and the release namespace as the current one (as in the pod)."""
    token = release.host.kubectl(
        "create", "token", release.service_account, "-n", release.namespace, "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(release.host.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "host", "cluster": {
            "server": cluster["server"], "certificate-authority-data": cluster["certificate-authority-data"]}}],
        "users": [{"name": release.service_account, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {
            "cluster": "host", "user": release.service_account, "namespace": release.namespace}}],
        "current-context": "operator",
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture
def sa_kubeconfig(chart_release: Release, tmp_path: Path) -> Path:
    """Minted per test: a test may uninstall and reinstall the release, which voids older tokens."""
    return write_sa_kubeconfig(chart_release, tmp_path / "operator.kubeconfig")


@dataclass
class ChartOperator(OperatorProcess):
    """`python -m bizdomain` with the chart's ServiceAccount and the Deployment's arguments."""

    def kill(self) -> None:
        """SIGKILL: no cleanup, the Lease is not released (a node lost, an OOM kill)."""
        self.stop(signal.SIGKILL)

    def metric(self, name: str) -> float:
        """The sum of one metric's samples, 0 when it has none (or the process is gone)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name + "{") or line.startswith(name + " ")
        )


StartOperator = Callable[..., ChartOperator]


@pytest.fixture
def operators(chart_release: Release, sa_kubeconfig: Path, tmp_path: Path) -> Iterator[StartOperator]:
    """operators(name) -> a started replica as the chart's Deployment runs it (leader election
    with the chart's Lease settings), with the chart's ServiceAccount and a 5 s resync. All are
    stopped (SIGTERM) at the end of the test."""
    started: list[ChartOperator] = []
    deployment = render(release=chart_release.name, namespace=chart_release.namespace)
    args = find(deployment, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    lease_args = [a for a in args if a.startswith(("--leader-election", "--lease-"))]

    def start(name: str = "replica-a") -> ChartOperator:
        operator = ChartOperator(
            kubeconfig=sa_kubeconfig,
            log_path=tmp_path / f"{name}-{len(started)}.log",
            env={
                "BIZDOMAIN_NAMESPACE": chart_release.namespace,
                "BIZDOMAIN_RESYNC_SECONDS": "5",
                "BIZDOMAIN_DEBOUNCE_SECONDS": "0.1",
                "BIZDOMAIN_DELETION_GRACE_SECONDS": "30",
            },
            extra_args=lease_args,
        )
        operator.start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()
    print("\n".join(f"operator log: {o.log_path}" for o in started))


@dataclass
class Domains:
    """Domains a test creates through the operators it runs; deleted (while they run) at the end."""

    platform: Platform
    member: Member
    created: list[str] = field(default_factory=list)

    def create(self, name: str, timeout: float = 60) -> None:
        """A domain with one binding to the release's member, applied as a user would; waits for Ready."""
        self.created.append(name)
        self.platform.apply(domain_doc(name))
        self.platform.wait_host_namespace(name, timeout=timeout)
        env = self.member.environment
        self.platform.apply(binding_doc(name, env, clusters={"names": [self.member.name]}))
        self.platform.wait_binding(name, env, timeout=timeout)
        self.platform.wait_domain_bound(name, (env,), timeout=timeout)

    def change(self, name: str) -> int:
        """Edit the domain's spec as a user would; returns the new generation."""
        host = self.platform.host
        patch = {"spec": {"displayName": f"{name} {time.monotonic_ns()}"}}
        host.kubectl("patch", "businessdomain", name, "--type=merge", "-p", json.dumps(patch))
        return int(host.kubectl("get", "businessdomain", name, "-o", "jsonpath={.metadata.generation}").stdout)

    def reconciled(self, name: str, generation: int) -> bool:
        """Whether the domain's Ready condition is True for `generation` (an operator handled it)."""
        cond = self.platform.condition(self.platform.get("businessdomain", name))
        return cond.get("status") == "True" and cond.get("observedGeneration") == generation

    def cleanup(self) -> None:
        for name in self.created:
            self.platform.delete("businessdomain", name, wait=False)
        for name in self.created:

            def gone(name: str = name) -> bool:
                return self.platform.get("businessdomain", name) is None

            wait_until(gone, timeout=60, what=f"domain {name} deleted")
            self.member.cluster.kubectl("delete", "ns", "-l", f"bizdomain.io/domain={name}", "--wait=false")


@pytest.fixture
def domains(
    control_plane: ControlPlaneHandle, member: Member, operators: StartOperator, tmp_path: Path
) -> Iterator[Domains]:
    """Create domains with `domains.create(name)`; they are deleted at the end of the test while the
    test's `operators` still run (their finalizers need one)."""
    # Platform's helpers (apply, get, wait_*) only use the control plane; the operators are ours.
    platform = Platform(control_plane, OperatorProcess(kubeconfig=Path(), log_path=tmp_path / "unused.log"))
    registry = Domains(platform, member)
    yield registry
    registry.cleanup()
