#!/usr/bin/env python3
"""A real multi-cluster Kubernetes control plane on loopback, without Docker.

One etcd, and per cluster a kube-apiserver (its own etcd prefix, port, CA, admin client
certificate and service-account keys) plus a kube-controller-manager running the controllers a
namespace/RBAC/quota operator relies on (namespace, garbage collector, resource quota, service
accounts and their tokens, cluster-role aggregation, kube-root-ca.crt publishing). No kubelet, no
scheduler: pods are admitted and stored but never run. Everything listens on 127.0.0.1 only.

Who calls it:
  * `make cluster-up` / `make cluster-down` through the command line below;
  * the pytest fixtures in tests/conftest.py through `ControlPlane` (or the module functions
    `up`, `down`, `load_state`), including fault tests that stop, pause and restart a single
    cluster's API server with `stop_apiserver` / `start_apiserver` / `pause_apiserver`.

    python hack/localcluster.py up host dev prod   # start what is missing, reuse what runs
    python hack/localcluster.py status
    python hack/localcluster.py down               # stop everything it started, remove .cluster/

Binaries come from $BIZDOMAIN_BIN_DIR, else from `hack/build-binaries.sh --dir`. State lives in
<repo>/.cluster/: per cluster a directory with its PKI, `<name>.kubeconfig` (admin), logs/ and
state.json (pids, ports, the exact argv of every process so a restart is identical). Processes
run in their own session with output in log files, so they outlive the `make` that started them.

Standard library only, plus the `openssl` command line for the certificates.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "CONTROLLERS",
    "Cluster",
    "ControlPlane",
    "ControlPlaneError",
    "Process",
    "State",
    "down",
    "load_state",
    "pause_apiserver",
    "resume_apiserver",
    "start_apiserver",
    "stop_apiserver",
    "up",
]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO / ".cluster"
LOOPBACK = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"  # a range string only; nothing routes there
ETCD_DATA_PREFIX = "bizdomain-etcd-"
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
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0  # down: SIGTERM, then SIGKILL after this long
GRACEFUL_STOP_TIMEOUT = 90.0  # an API server drains open watches for up to its 60 s shutdown timeout
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")
_RESERVED_NAMES = frozenset({"logs", "etcd"})
_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


def wait_quota_counts(kubectl: Callable[..., str], resource: str, timeout: float = 90.0) -> float:
    """Wait until the quota controller counts ``resource`` (e.g. ``count/widgets.example.com``),
    and return how long that took. It learns a CRD's kinds by polling discovery every 30 s, and a
    ResourceQuota made before that is counted only at its next full resync (5 min): until then the
    API server refuses every create it limits ("status unknown for quota"). Made once after the
    CRDs are installed, this probe (a quota in ``default``, deleted again) tells when new quotas
    are counted at once. ``kubectl(*args, check=...)`` runs kubectl against the cluster (stdout)."""
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


class ControlPlaneError(RuntimeError):
    """The control plane could not be brought to the requested state."""


# --------------------------------------------------------------------------------------------
# State


@dataclass
class Process:
    """One server process: the argv that starts it (again) and its pid now (0: not running)."""

    argv: list[str]
    log: str
    pid: int = 0

    @property
    def binary(self) -> str:
        return self.argv[0]

    def running(self) -> bool:
        """True if the recorded pid is alive (not a zombie) and still runs our binary."""
        return self.pid > 0 and _pid_runs(self.pid, self.binary)


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


# --------------------------------------------------------------------------------------------
# Processes


def _pid_runs(pid: int, binary: str) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if stat[stat.rindex(")") + 2] in "ZX":  # a zombie is dead; PID 1 may never reap it
        return False
    return cmdline.split(b"\0", 1)[0].decode(errors="replace") == binary


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _child_env() -> dict[str, str]:
    """The environment for the servers: no proxies, so loopback traffic stays on loopback."""
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}


def _spawn(proc: Process) -> None:
    """Start `proc` in its own session, stdin from /dev/null, stdout and stderr to its log."""
    log = Path(proc.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} localcluster: {' '.join(proc.argv)}\n")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    # posix_spawn rather than subprocess.Popen: no Popen object left to warn "still running"
    # when the fixture hands the servers on to a later session.
    proc.pid = os.posix_spawn(proc.binary, proc.argv, _child_env(), file_actions=actions, setsid=True)
    # posix_spawn returns once the child has let go of our memory inside execve, which is before
    # the kernel has set up the new program's argv: /proc/<pid>/cmdline reads empty for a moment
    # (long enough to matter on a busy machine). Wait until it shows the binary, or has exited.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                return
        except OSError:
            return
        time.sleep(0.001)


def _stop(procs: Sequence[Process], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every running process, SIGKILL what is left after `timeout` (at once if 0);
    return once all are gone."""
    alive = [p for p in procs if p.running()]
    for p in alive if timeout > 0 else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGTERM)
            os.kill(p.pid, signal.SIGCONT)  # a paused process must wake up to handle SIGTERM
    deadline = time.monotonic() + timeout
    while (alive := [p for p in alive if p.running()]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while (alive := [p for p in alive if p.running()]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive:
        raise ControlPlaneError(f"processes survived SIGKILL: {[p.pid for p in alive]}")
    for p in procs:
        p.pid = 0


def _log_tail(proc: Process, lines: int = 15) -> str:
    try:
        text = Path(proc.log).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _free_ports(count: int) -> list[int]:
    """Ports the kernel hands out on 127.0.0.1 right now (all held at once, so distinct)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _processes_referencing(binaries: Iterable[str], needles: Iterable[str]) -> list[Process]:
    """Live processes running one of `binaries` whose argv mentions one of `needles`."""
    binaries, needles = set(binaries), [n for n in needles if n]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] in "ZX" or argv[0] not in binaries:
            continue
        if any(n in arg for arg in argv for n in needles):
            found.append(Process(argv=[a for a in argv if a], log="", pid=int(entry.name)))
    return found


# --------------------------------------------------------------------------------------------
# Certificates and kubeconfigs


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _new_key(path: Path) -> None:
    _openssl(
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        path.name,
        cwd=path.parent,
    )
    path.chmod(0o600)


def _sign(pki: Path, name: str, subject: str, extensions: str) -> None:
    """`name`.key and `name`.crt signed by the CA in `pki`, with the given v3 extensions."""
    _new_key(pki / f"{name}.key")
    (pki / f"{name}.ext").write_text(extensions)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=pki)
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.crt",
        cwd=pki,
    )
    (pki / f"{name}.csr").unlink()
    (pki / f"{name}.ext").unlink()


def _make_pki(pki: Path, cluster: str) -> None:
    """A CA of its own per cluster: credentials of one cluster mean nothing to another."""
    pki.mkdir(parents=True, exist_ok=True)
    _new_key(pki / "ca.key")
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        f"/CN=bizdomain-{cluster}-ca",
        "-days",
        "3650",
        "-out",
        "ca.crt",
        cwd=pki,
    )
    leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    _sign(
        pki,
        "serving",
        "/CN=kube-apiserver",
        leaf + "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    _sign(pki, "admin", "/O=system:masters/CN=admin", leaf + "extendedKeyUsage=clientAuth\n")
    _sign(
        pki,
        "controller-manager",
        "/CN=system:kube-controller-manager",
        leaf + "extendedKeyUsage=clientAuth\n",
    )
    _new_key(pki / "sa.key")
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _write_kubeconfig(path: Path, cluster: Cluster, cert: str, user: str) -> None:
    pki = Path(cluster.dir)
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: {cluster.name}
  cluster:
    server: {cluster.url}
    certificate-authority-data: {_b64(pki / "ca.crt")}
users:
- name: {user}
  user:
    client-certificate-data: {_b64(pki / f"{cert}.crt")}
    client-key-data: {_b64(pki / f"{cert}.key")}
contexts:
- name: {cluster.name}
  context:
    cluster: {cluster.name}
    user: {user}
current-context: {cluster.name}
preferences: {{}}
"""
    )
    path.chmod(0o600)


# --------------------------------------------------------------------------------------------
# Health


def _get(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET `url` directly (never through a proxy); (status, body), status 0 if unreachable."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, ssl.SSLError):
        return 0, b""


def _admin_context(cluster: Cluster) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    cert, key = cluster.admin_cert
    context.load_cert_chain(str(cert), str(key))
    return context


def _etcd_healthy(state: State) -> bool:
    status, body = _get(f"{state.etcd_url}/health")
    return status == 200 and b'"health":"true"' in body


def _apiserver_ready(cluster: Cluster) -> bool:
    status, _ = _get(f"{cluster.url}/readyz", _admin_context(cluster))
    return status == 200


def _cluster_not_ready(cluster: Cluster) -> str | None:
    """Why `cluster` cannot be used yet (None once it can): servers and controllers answer."""
    context = _admin_context(cluster)
    if _get(f"{cluster.url}/readyz", context)[0] != 200:
        return "kube-apiserver /readyz"
    cm_url = f"https://{LOOPBACK}:{cluster.controller_manager_port}/healthz"
    if _get(cm_url, context)[0] != 200:
        return "kube-controller-manager /healthz"
    # The serviceaccount controller has run and the clusterrole-aggregation controller has filled
    # the built-in `edit` role: the controllers tests and the operator rely on are working.
    if _get(f"{cluster.url}/api/v1/namespaces/default/serviceaccounts/default", context)[0] != 200:
        return "the default ServiceAccount"
    status, body = _get(f"{cluster.url}/apis/rbac.authorization.k8s.io/v1/clusterroles/edit", context)
    if status != 200 or not json.loads(body).get("rules"):
        return "the aggregated `edit` ClusterRole"
    return None


# --------------------------------------------------------------------------------------------
# The control plane


def _default_bin_dir() -> Path:
    if env := os.environ.get("BIZDOMAIN_BIN_DIR"):
        return Path(env)
    out = subprocess.run(
        [str(REPO / "hack" / "build-binaries.sh"), "--dir"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


class ControlPlane:
    """Start, inspect, fault and stop the local control plane recorded in `state_dir`."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        bin_dir: Path | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._bin_dir = bin_dir
        self.out = out

    # -- reading -------------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def load_state(self) -> State | None:
        """The recorded state, or None when nothing was started (or the file is unreadable)."""
        try:
            return State.from_json(json.loads(self.state_file.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running_state(self, names: Iterable[str] = ()) -> State | None:
        """The state if etcd runs and every named cluster answers /readyz, else None."""
        state = self.load_state()
        if state is None or not state.etcd.running() or not _etcd_healthy(state):
            return None
        for name in names:
            cluster = state.clusters.get(name)
            if cluster is None or not all(p.running() for p in cluster.processes()):
                return None
            if not _apiserver_ready(cluster):
                return None
        return state

    def cluster(self, name: str) -> Cluster:
        state = self.load_state()
        if state is None or name not in state.clusters:
            raise ControlPlaneError(f"no cluster {name!r} in {self.state_file}")
        return state.clusters[name]

    # -- up / down -----------------------------------------------------------------------------

    def up(self, names: Sequence[str]) -> State:
        """Start etcd and the named clusters, reusing whatever already runs; wait until usable.

        The plane is then kept: test sessions that attach to it never stop it (see `attach`)."""
        with self._locked():
            state, _ = self._ensure(names)
            state.owner = "cli"
            self._save(state)
        return state

    def attach(self, names: Sequence[str], session: int) -> tuple[State, bool]:
        """`up` for a test session (`session` is its pid): returns the state and whether this call
        started etcd. A plane started by sessions is stopped by the last one to `detach`."""
        with self._locked():
            state, fresh = self._ensure(names)
            if fresh:
                state.owner = "sessions"
            state.sessions = [pid for pid in state.sessions if pid != session and _pid_alive(pid)] + [session]
            self._save(state)
        return state, fresh

    def detach(self, session: int) -> bool:
        """Forget `session`; stop everything if sessions started the plane and none is left (a
        plane from `up` stays). True if the plane was stopped."""
        with self._locked():
            state = self.load_state()
            if state is None:
                return False
            state.sessions = [pid for pid in state.sessions if pid != session and _pid_alive(pid)]
            if state.owner == "sessions" and not state.sessions:
                self._teardown(state)
                self._say("control plane down: the last test session that used it has ended")
                return True
            self._save(state)
            return False

    def _ensure(self, names: Sequence[str]) -> tuple[State, bool]:
        """Under the lock: start what is missing for `names`, wait until usable, print a summary.
        Returns the state and whether etcd (so the whole plane) was started afresh."""
        started_at = time.monotonic()
        names = list(dict.fromkeys(names))
        for name in names:
            if not _NAME.match(name) or name in _RESERVED_NAMES:
                raise ControlPlaneError(f"bad cluster name {name!r}: use a short DNS-1123 label")
        state = self.load_state()
        if state is not None and not (state.etcd.running() and _etcd_healthy(state)):
            self._say("stale state (etcd is not running): cleaning up before starting afresh")
            self._teardown(state)
            state = None
        started: list[str] = []
        fresh = state is None
        if state is None:
            state = self._start_etcd()
            started.append(f"etcd pid {state.etcd.pid}")
        for name in names:
            if name not in state.clusters:
                state.clusters[name] = self._new_cluster(state, name)
                self._save(state)
        for name in names:
            apiserver = state.clusters[name].apiserver
            if not apiserver.running():
                _spawn(apiserver)
                self._save(state)
                started.append(f"{name} kube-apiserver pid {apiserver.pid}")
        self._wait_usable(state, names, started)
        elapsed = time.monotonic() - started_at
        self._say("started: " + (", ".join(started) if started else "nothing (all running)"))
        for name in names:
            c = state.clusters[name]
            self._say(
                f"  {name:<8} {c.url}  {c.kubeconfig}  kube-apiserver pid {c.apiserver.pid}, "
                f"kube-controller-manager pid {c.controller_manager.pid}"
            )
        self._say(f"  etcd     {state.etcd_url}  pid {state.etcd.pid}  data {state.etcd_data_dir}")
        self._say(f"control plane up in {elapsed:.1f}s")
        return state, fresh

    def down(self) -> None:
        """Stop every process `up` started, remove the etcd data and .cluster/; verify none is left."""
        with self._locked():
            state = self.load_state()
            self._teardown(state)
        self._say("control plane down: no process references " + str(self.state_dir))

    def _teardown(self, state: State | None) -> None:
        """Stop every process of `state` (and strays), remove the etcd data and the state dir."""
        if state is not None:
            # With etcd gone, an API server hangs in its graceful shutdown: kill at once then.
            timeout = STOP_TIMEOUT if state.etcd.running() else 0
            for group in state.stop_order():
                _stop(group, timeout)
        # Servers whose recorded pid got lost (say, killed `up` before it wrote state.json) are
        # still ours when they run one of our binaries with an argv pointing into our state
        # directory or etcd data directory.
        bin_dir = Path(state.bin_dir) if state is not None else _default_bin_dir()
        binaries = [str(bin_dir / b) for b in ("etcd", "kube-apiserver", "kube-controller-manager")]
        needles = [str(self.state_dir) + os.sep, *([state.etcd_data_dir] if state else [])]
        _stop(_processes_referencing(binaries, needles))
        if left := _processes_referencing(binaries, needles):
            raise ControlPlaneError(f"still running after down: {[(p.pid, p.argv) for p in left]}")
        if state is not None:
            self._remove_etcd_data(state.etcd_data_dir)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    @staticmethod
    def _remove_etcd_data(path: str) -> None:
        data = Path(path)
        if data.parent == Path(tempfile.gettempdir()) and data.name.startswith(ETCD_DATA_PREFIX):
            shutil.rmtree(data, ignore_errors=True)

    # -- single-component faults ---------------------------------------------------------------

    def stop_apiserver(self, name: str, graceful: bool = False) -> None:
        """Stop one cluster's kube-apiserver; its port, certs and etcd data stay for a restart.

        By default it is killed (SIGKILL), as in a crash: clients see refused connections at
        once. `graceful=True` sends SIGTERM and waits; with clients watching (a controller
        manager, an operator) the API server drains for its full shutdown timeout (~60 s)."""
        self._stop_one(name, "apiserver", GRACEFUL_STOP_TIMEOUT if graceful else 0)

    def start_apiserver(self, name: str, wait: bool = True) -> None:
        """Start one cluster's kube-apiserver again with the identical argv; wait for /readyz."""
        with self._locked():
            state = self._require_state()
            cluster = state.clusters[name]
            if not cluster.apiserver.running():
                _spawn(cluster.apiserver)
                self._save(state)
            if wait:
                self._wait_for(f"{name} kube-apiserver /readyz", [cluster.apiserver], lambda: _apiserver_ready(cluster))

    def pause_apiserver(self, name: str) -> None:
        """Freeze one kube-apiserver (SIGSTOP): connections open but nothing answers."""
        os.kill(self._running_pid(name, "apiserver"), signal.SIGSTOP)

    def resume_apiserver(self, name: str) -> None:
        """Thaw an API server frozen by `pause_apiserver` (SIGCONT)."""
        os.kill(self._running_pid(name, "apiserver"), signal.SIGCONT)

    def stop_controller_manager(self, name: str) -> None:
        """Stop one cluster's kube-controller-manager (no namespace deletion, GC, quota status)."""
        self._stop_one(name, "controller_manager", STOP_TIMEOUT)

    def start_controller_manager(self, name: str) -> None:
        """Start one cluster's kube-controller-manager again; wait until the cluster is usable."""
        with self._locked():
            state = self._require_state()
            self._wait_usable(state, [name])

    def _stop_one(self, name: str, component: str, timeout: float) -> None:
        with self._locked():
            state = self._require_state()
            _stop([getattr(state.clusters[name], component)], timeout)
            self._save(state)

    def _running_pid(self, name: str, component: str) -> int:
        proc: Process = getattr(self.cluster(name), component)
        if not proc.running():
            raise ControlPlaneError(f"{name} {component} is not running")
        return proc.pid

    # -- status --------------------------------------------------------------------------------

    def status(self) -> bool:
        """Print every process with its health; True if everything recorded is healthy."""
        state = self.load_state()
        if state is None:
            self._say(f"no control plane ({self.state_file} does not exist)")
            return False
        if state.owner == "sessions":
            self._say(f"started by test sessions {state.sessions}; the last one to end stops it")
        ok = state.etcd.running() and _etcd_healthy(state)
        rss = f"RSS {_rss_mib(state.etcd.pid)} MiB" if ok else "DOWN"
        self._say(f"etcd     {state.etcd_url}  pid {state.etcd.pid}  {rss}")
        for name, c in state.clusters.items():
            api = c.apiserver.running() and _apiserver_ready(c)
            cm = c.controller_manager.running()
            ok = ok and api and cm
            api_rss = f"ready, RSS {_rss_mib(c.apiserver.pid)} MiB" if api else "DOWN"
            cm_rss = f"running, RSS {_rss_mib(c.controller_manager.pid)} MiB" if cm else "DOWN"
            self._say(f"{name:<8} {c.url}  {c.kubeconfig}")
            self._say(f"         kube-apiserver pid {c.apiserver.pid} {api_rss}")
            self._say(f"         kube-controller-manager pid {c.controller_manager.pid} {cm_rss}")
        return ok

    # -- internals -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on the state directory, so concurrent ups and downs serialize."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _require_state(self) -> State:
        state = self.load_state()
        if state is None:
            raise ControlPlaneError(f"no control plane recorded in {self.state_file}")
        return state

    def _save(self, state: State) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)

    def _say(self, message: str) -> None:
        print(message, file=self.out or sys.stdout, flush=True)

    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = _default_bin_dir()
        missing = [
            b
            for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
            if not os.access(self._bin_dir / b, os.X_OK)
        ]
        if missing:
            raise ControlPlaneError(f"missing {missing} in {self._bin_dir}: run `make binaries`")
        return self._bin_dir

    def _start_etcd(self) -> State:
        bin_dir = self.bin_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        client, peer = _free_ports(2)
        data_dir = tempfile.mkdtemp(prefix=ETCD_DATA_PREFIX)
        peer_url, client_url = f"http://{LOOPBACK}:{peer}", f"http://{LOOPBACK}:{client}"
        etcd = Process(
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
            log=str(self.state_dir / "logs" / "etcd.log"),
        )
        state = State(
            state_dir=str(self.state_dir),
            bin_dir=str(bin_dir),
            etcd_data_dir=data_dir,
            etcd_client_port=client,
            etcd_peer_port=peer,
            etcd=etcd,
        )
        _spawn(etcd)
        self._save(state)
        self._wait_for("etcd /health", [etcd], lambda: _etcd_healthy(state))
        return state

    def _new_cluster(self, state: State, name: str) -> Cluster:
        bin_dir = Path(state.bin_dir)
        pki = self.state_dir / name
        shutil.rmtree(pki, ignore_errors=True)
        _make_pki(pki, name)
        port, cm_port = _free_ports(2)
        logs = self.state_dir / "logs"
        cm_kubeconfig = pki / "controller-manager.kubeconfig"
        apiserver = Process(
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
        controller_manager = Process(
            argv=[
                str(bin_dir / "kube-controller-manager"),
                f"--kubeconfig={cm_kubeconfig}",
                f"--authentication-kubeconfig={cm_kubeconfig}",
                f"--authorization-kubeconfig={cm_kubeconfig}",
                f"--bind-address={LOOPBACK}",
                f"--secure-port={cm_port}",
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
        cluster = Cluster(
            name=name,
            port=port,
            controller_manager_port=cm_port,
            dir=str(pki),
            kubeconfig=str(self.state_dir / f"{name}.kubeconfig"),
            apiserver=apiserver,
            controller_manager=controller_manager,
        )
        _write_kubeconfig(Path(cluster.kubeconfig), cluster, "admin", f"{name}-admin")
        _write_kubeconfig(cm_kubeconfig, cluster, "controller-manager", "system:kube-controller-manager")
        return cluster

    def _wait_usable(self, state: State, names: Sequence[str], started: list[str] | None = None) -> None:
        """Wait until every named cluster can be used, starting each controller manager as soon
        as its API server is ready (it exits at once if it cannot read its auth config)."""
        pending = {name: state.clusters[name] for name in names}
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            for name, cluster in list(pending.items()):
                cm = cluster.controller_manager
                if not cm.running() and _apiserver_ready(cluster):
                    _spawn(cm)
                    self._save(state)
                    if started is not None:
                        started.append(f"{name} kube-controller-manager pid {cm.pid}")
                for proc in (cluster.apiserver, *([cm] if cm.pid else [])):
                    if not proc.running():
                        raise ControlPlaneError(
                            f"{name} {Path(proc.binary).name} exited; {proc.log}:\n{_log_tail(proc)}"
                        )
                reason = _cluster_not_ready(cluster)
                if reason is None:
                    del pending[name]
                elif time.monotonic() > deadline:
                    raise ControlPlaneError(f"{name}: timed out waiting for {reason}")
            if pending:
                time.sleep(0.2)

    def _wait_for(self, what: str, procs: Sequence[Process], ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready():
            for proc in procs:
                if not proc.running():
                    raise ControlPlaneError(f"{what}: process exited; {proc.log}:\n{_log_tail(proc)}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}")
            time.sleep(0.1)


def _rss_mib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------------------------
# Module-level conveniences over the default state directory


def up(names: Sequence[str]) -> State:
    """Start (or reuse) etcd and the named clusters under <repo>/.cluster."""
    return ControlPlane().up(names)


def down() -> None:
    """Stop everything under <repo>/.cluster and remove it."""
    ControlPlane().down()


def load_state() -> State | None:
    """The recorded state of <repo>/.cluster, or None."""
    return ControlPlane().load_state()


def stop_apiserver(name: str, graceful: bool = False) -> None:
    ControlPlane().stop_apiserver(name, graceful)


def start_apiserver(name: str) -> None:
    ControlPlane().start_apiserver(name)


def pause_apiserver(name: str) -> None:
    ControlPlane().pause_apiserver(name)


def resume_apiserver(name: str) -> None:
    ControlPlane().resume_apiserver(name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start etcd and the named clusters (reuse what runs)")
    up_parser.add_argument("names", nargs="+", metavar="cluster")
    sub.add_parser("down", help="stop every process `up` started and remove .cluster/")
    sub.add_parser("status", help="show the recorded processes and their health")
    args = parser.parse_args(argv)
    plane = ControlPlane()
    try:
        if args.command == "up":
            plane.up(args.names)
        elif args.command == "down":
            plane.down()
        else:
            return 0 if plane.status() else 1
    except ControlPlaneError as e:
        print(f"localcluster: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
