"""py-spy on the operator's subprocess, and the summaries of what it sampled.

The operator itself runs as the tests run it (``localcluster.harness.OperatorProcess``: RSS and
CPU from ``/proc/<pid>``, its Prometheus samples); :class:`Profiler` attaches ``py-spy record``
to it for one phase (when ``--profile`` is given). Used by :mod:`bench.run`.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


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
