"""`ControlPlane`: start, share, inspect and stop the local control plane recorded in a state
directory, under an exclusive lock so concurrent `up`s, `down`s and test sessions serialize.

Called by :mod:`localcluster.cli` (`make cluster-up` / `cluster-down`), by tests/conftest.py
(`attach` / `detach` per test session) and by the benchmark (a plane in a directory of its own).
Single-component faults (`Faults(plane)`) are :mod:`localcluster.faults`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from localcluster import processes
from localcluster.errors import ControlPlaneError
from localcluster.processes import Process
from localcluster.readiness import apiserver_ready, cluster_not_ready, etcd_healthy
from localcluster.servers import etcd_process, new_cluster
from localcluster.state import Cluster, State

__all__ = ["DEFAULT_STATE_DIR", "REPO", "ControlPlane", "default_bin_dir"]

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO / ".cluster"
ETCD_DATA_PREFIX = "bizdomain-etcd-"
READY_TIMEOUT = 120.0
SERVERS = ("etcd", "kube-apiserver", "kube-controller-manager")
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")
_RESERVED_NAMES = frozenset({"logs", "etcd"})


def default_bin_dir() -> Path:
    """$BIZDOMAIN_BIN_DIR, else the shared cache `hack/build-binaries.sh --dir` prints."""
    if env := os.environ.get("BIZDOMAIN_BIN_DIR"):
        return Path(env)
    script = REPO / "hack" / "build-binaries.sh"
    out = subprocess.run([str(script), "--dir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


class ControlPlane:
    """Start, inspect and stop the local control plane recorded in `state_dir`."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, bin_dir: Path | None = None, out: TextIO | None = None):
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

    def require_state(self) -> State:
        """The recorded state; a clear error when there is none."""
        state = self.load_state()
        if state is None:
            raise ControlPlaneError(f"no control plane recorded in {self.state_file}")
        return state

    def running_state(self, names: Iterable[str] = ()) -> State | None:
        """The state if etcd runs and every named cluster answers /readyz, else None."""
        state = self.load_state()
        if state is None or not state.etcd.running() or not etcd_healthy(state):
            return None
        for name in names:
            cluster = state.clusters.get(name)
            if cluster is None or not all(p.running() for p in cluster.processes()):
                return None
            if not apiserver_ready(cluster):
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
        with self.locked():
            state, _ = self._ensure(names)
            state.owner = "cli"
            self.save(state)
        return state

    def attach(self, names: Sequence[str], session: int) -> tuple[State, bool]:
        """`up` for a test session (`session` is its pid): returns the state and whether this call
        started etcd. A plane started by sessions is stopped by the last one to `detach`."""
        with self.locked():
            state, fresh = self._ensure(names)
            if fresh:
                state.owner = "sessions"
            alive = [pid for pid in state.sessions if pid != session and processes.pid_alive(pid)]
            state.sessions = [*alive, session]
            self.save(state)
        return state, fresh

    def detach(self, session: int) -> bool:
        """Forget `session`; stop everything if sessions started the plane and none is left (a
        plane from `up` stays). True if the plane was stopped."""
        with self.locked():
            state = self.load_state()
            if state is None:
                return False
            state.sessions = [pid for pid in state.sessions if pid != session and processes.pid_alive(pid)]
            if state.owner == "sessions" and not state.sessions:
                self._teardown(state)
                self.say("control plane down: the last test session that used it has ended")
                return True
            self.save(state)
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
        if state is not None and not (state.etcd.running() and etcd_healthy(state)):
            self.say("stale state (etcd is not running): cleaning up before starting afresh")
            self._teardown(state)
            state = None
        started: list[str] = []
        fresh = state is None
        if state is None:
            state = self._start_etcd()
            started.append(f"etcd pid {state.etcd.pid}")
        for name in names:
            if name not in state.clusters:
                state.clusters[name] = new_cluster(state, self.state_dir, name)
                self.save(state)
        for name in names:
            apiserver = state.clusters[name].apiserver
            if not apiserver.running():
                processes.spawn(apiserver)
                self.save(state)
                started.append(f"{name} kube-apiserver pid {apiserver.pid}")
        self.wait_usable(state, names, started)
        elapsed = time.monotonic() - started_at
        self.say("started: " + (", ".join(started) if started else "nothing (all running)"))
        for name in names:
            c = state.clusters[name]
            self.say(
                f"  {name:<8} {c.url}  {c.kubeconfig}  kube-apiserver pid {c.apiserver.pid}, "
                f"kube-controller-manager pid {c.controller_manager.pid}"
            )
        self.say(f"  etcd     {state.etcd_url}  pid {state.etcd.pid}  data {state.etcd_data_dir}")
        self.say(f"control plane up in {elapsed:.1f}s")
        return state, fresh

    def down(self) -> None:
        """Stop every process `up` started, remove the etcd data and .cluster/; verify none is left."""
        with self.locked():
            self._teardown(self.load_state())
        self.say("control plane down: no process references " + str(self.state_dir))

    def _teardown(self, state: State | None) -> None:
        """Stop every process of `state` (and strays), remove the etcd data and the state dir."""
        if state is not None:
            # With etcd gone, an API server hangs in its graceful shutdown: kill at once then.
            timeout = processes.STOP_TIMEOUT if state.etcd.running() else 0
            for group in state.stop_order():
                processes.stop(group, timeout)
        # Servers whose recorded pid got lost (say, killed `up` before it wrote state.json) are
        # still ours when they run one of our binaries with an argv pointing into our state
        # directory or etcd data directory.
        bin_dir = Path(state.bin_dir) if state is not None else default_bin_dir()
        binaries = [str(bin_dir / b) for b in SERVERS]
        needles = [str(self.state_dir) + os.sep, *([state.etcd_data_dir] if state else [])]
        processes.stop(processes.processes_referencing(binaries, needles))
        if left := processes.processes_referencing(binaries, needles):
            raise ControlPlaneError(f"still running after down: {[(p.pid, p.argv) for p in left]}")
        if state is not None:
            data = Path(state.etcd_data_dir)
            if data.parent == Path(tempfile.gettempdir()) and data.name.startswith(ETCD_DATA_PREFIX):
                shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- shared with localcluster.faults -------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock on the state directory, so concurrent ups and downs serialize."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def save(self, state: State) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)

    def say(self, message: str) -> None:
        print(message, file=self.out or sys.stdout, flush=True)

    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = default_bin_dir()
        missing = [b for b in (*SERVERS, "kubectl") if not os.access(self._bin_dir / b, os.X_OK)]
        if missing:
            raise ControlPlaneError(f"missing {missing} in {self._bin_dir}: run `make binaries`")
        return self._bin_dir

    def wait_usable(self, state: State, names: Sequence[str], started: list[str] | None = None) -> None:
        """Wait until every named cluster can be used, starting each controller manager as soon
        as its API server is ready (it exits at once if it cannot read its auth config)."""
        pending = {name: state.clusters[name] for name in names}
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            for name, cluster in list(pending.items()):
                cm = cluster.controller_manager
                if not cm.running() and apiserver_ready(cluster):
                    processes.spawn(cm)
                    self.save(state)
                    if started is not None:
                        started.append(f"{name} kube-controller-manager pid {cm.pid}")
                for proc in (cluster.apiserver, *([cm] if cm.pid else [])):
                    if not proc.running():
                        tail = processes.log_tail(proc)
                        raise ControlPlaneError(f"{name} {Path(proc.binary).name} exited; {proc.log}:\n{tail}")
                reason = cluster_not_ready(cluster)
                if reason is None:
                    del pending[name]
                elif time.monotonic() > deadline:
                    raise ControlPlaneError(f"{name}: timed out waiting for {reason}")
            if pending:
                time.sleep(0.2)

    def wait_for(self, what: str, procs: Sequence[Process], ready: Callable[[], bool]) -> None:
        """Wait until `ready()`; fail at once if one of `procs` exits, or after READY_TIMEOUT."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready():
            for proc in procs:
                if not proc.running():
                    raise ControlPlaneError(f"{what}: process exited; {proc.log}:\n{processes.log_tail(proc)}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def _start_etcd(self) -> State:
        bin_dir = self.bin_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        client, peer = processes.free_ports(2)
        data_dir = tempfile.mkdtemp(prefix=ETCD_DATA_PREFIX)
        etcd = etcd_process(bin_dir, self.state_dir / "logs", data_dir, client, peer)
        state = State(
            state_dir=str(self.state_dir),
            bin_dir=str(bin_dir),
            etcd_data_dir=data_dir,
            etcd_client_port=client,
            etcd_peer_port=peer,
            etcd=etcd,
        )
        processes.spawn(etcd)
        self.save(state)
        self.wait_for("etcd /health", [etcd], lambda: etcd_healthy(state))
        return state
