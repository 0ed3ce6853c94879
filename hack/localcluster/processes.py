"""Server processes of the local control plane: spawning them in their own session, telling
whether a recorded pid still runs our binary, stopping them, and loopback ports.

Used by :mod:`localcluster.state` (a recorded `Process`), :mod:`localcluster.plane` and
:mod:`localcluster.faults` (start and stop), and the harness (`free_port` for the operator's
metrics endpoint).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from localcluster.errors import ControlPlaneError

__all__ = [
    "LOOPBACK",
    "STOP_TIMEOUT",
    "Process",
    "child_env",
    "free_port",
    "free_ports",
    "log_tail",
    "pid_alive",
    "processes_referencing",
    "rss_mib",
    "spawn",
    "stop",
]

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 10.0  # down: SIGTERM, then SIGKILL after this long
_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


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


def _state_letter(stat: str) -> str:
    """The process state in /proc/<pid>/stat (after the command name, which may hold spaces)."""
    return stat[stat.rindex(")") + 2]


def _pid_runs(pid: int, binary: str) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if _state_letter(stat) in "ZX":  # a zombie is dead; PID 1 may never reap it
        return False
    return cmdline.split(b"\0", 1)[0].decode(errors="replace") == binary


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (whatever it runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return _state_letter(stat) not in "ZX"


def child_env() -> dict[str, str]:
    """The environment for the servers: no proxies, so loopback traffic stays on loopback."""
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}


def spawn(proc: Process) -> None:
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
    proc.pid = os.posix_spawn(proc.binary, proc.argv, child_env(), file_actions=actions, setsid=True)
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


def stop(procs: Sequence[Process], timeout: float = STOP_TIMEOUT) -> None:
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


def log_tail(proc: Process, lines: int = 15) -> str:
    """The last `lines` lines of the process's log (for an error message)."""
    try:
        text = Path(proc.log).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out on 127.0.0.1 right now (all held at once, so distinct)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind((LOOPBACK, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """One port the kernel hands out on 127.0.0.1 right now."""
    [port] = free_ports(1)
    return port


def processes_referencing(binaries: Iterable[str], needles: Iterable[str]) -> list[Process]:
    """Live processes running one of `binaries` whose argv mentions one of `needles`."""
    wanted, words = set(binaries), [n for n in needles if n]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if _state_letter(stat) in "ZX" or argv[0] not in wanted:
            continue
        if any(n in arg for arg in argv for n in words):
            found.append(Process(argv=[a for a in argv if a], log="", pid=int(entry.name)))
    return found


def rss_mib(pid: int) -> int:
    """The resident set of `pid` in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0
