"""The operator as a real subprocess (``python -m bizdomain``), its memory and CPU, and py-spy.

:class:`OperatorProcess` mirrors tests/e2e/conftest.py's: the host's admin kubeconfig, the
``BIZDOMAIN_*`` settings of the run, output to a log file, its own session. RSS and CPU come
from ``/proc/<pid>``; :class:`Profiler` attaches ``py-spy record`` to it for one phase (when
``--profile`` is given). Used by :mod:`bench.run`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.cluster import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OperatorProcess:
    """One ``python -m bizdomain`` against the host in ``kubeconfig``."""

    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0

    def start(self) -> None:
        self.metrics_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bizdomain", "--metrics-port", str(self.metrics_port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

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

    def metrics(self, **labels: str) -> dict[str, float]:
        """The operator's own Prometheus samples (``bizdomain_*``) that carry ``labels``,
        summed over every other label."""
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10
        ) as response:
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
        """Member objects the operator has created so far (``bizdomain_objects_total``)."""
        return self.metrics(action="created").get("bizdomain_objects_total", 0.0)


class Profiler:
    """``py-spy record`` attached to a running process until :meth:`stop` (SIGINT)."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        self.proc = subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # attached before the phase starts

    def stop(self) -> Path:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.out


def _frame(frame: str) -> str:
    """``func (/long/path/pkg/mod.py:123)`` -> ``func (pkg/mod.py)``."""
    function, _, where = frame.partition(" (")
    if not where:
        return frame
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{function} ({'/'.join(path.split('/')[-2:])})"


IDLE = ("_PollLikeSelector.select", "EpollSelector.select", "select (selectors", "_worker (futures/thread.py)")
LOOP = "BaseEventLoop._run_once"
SCAFFOLD = (
    "_run_module_as_main", "_run_code", "<module>", "main (", "run (asyncio", "Runner.run",
    "BaseEventLoop.run_", "BaseEventLoop._run_once", "Handle._run",
)  # fmt: skip


def _samples(raw: Path) -> list[tuple[list[str], int]]:
    """The event loop's busy samples: stacks through ``_run_once`` that are not waiting in select
    (py-spy here cannot tell idle threads apart, so the thread pool's waits are dropped too)."""
    out = []
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or LOOP not in stack:
            continue
        frames = [_frame(f) for f in stack.split(";")]
        if not frames[-1].startswith(IDLE):
            out.append((frames, int(count)))
    return out


def summarize_profile(raw: Path, top: int = 40) -> list[tuple[str, float, float]]:
    """(function, inclusive %, self %) of the event loop's busy samples, busiest first."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples = _samples(raw)
    total = sum(count for _, count in samples)
    for frames, count in samples:
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return []
    ranked = [(f, c) for f, c in inclusive.most_common() if not f.startswith(SCAFFOLD)][:top]
    return [(f, 100 * c / total, 100 * own[f] / total) for f, c in ranked]


def top_self(raw: Path, top: int = 20) -> list[tuple[str, float]]:
    """The functions the event loop's busy samples were in (self time), busiest first."""
    own: Counter[str] = Counter()
    samples = _samples(raw)
    total = sum(count for _, count in samples)
    for frames, count in samples:
        own[frames[-1]] += count
    return [(f, 100 * c / total) for f, c in own.most_common(top)] if total else []


def busy_seconds(raw: Path, rate: int = 100) -> float:
    """Seconds of event-loop work the samples stand for."""
    return sum(count for _, count in _samples(raw)) / rate
