"""Fixtures of the fault tests: the running operator, the faults a test injects (always undone),
and the data safety invariants checked after every test.

`platform` is tests/e2e's platform: the CRDs, the members joined with `bizdomain join`, and
`python -m bizdomain` as a subprocess with a 5 s re-sync. There is one operator at a time (two
would fight over the same objects, and killing one would prove nothing): when e2e tests of the
session already run theirs, it is the one used here; otherwise an identical platform is started
here and stopped when the fault tests are done, before any later e2e test starts its own.

`faults` injects faults and undoes every one of them when the test ends, pass or fail, before
the test's domains are cleaned up (request it after `make_domain`): API servers resumed and
running, the operator alive, and whatever the test registered with `faults.undo(...)`.

After every test (autouse) `assert_invariants(platform)` checks that nothing that must never be
deleted was, and that nothing managed was left behind (see invariants.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from e2e.conftest import MEMBERS, OperatorProcess, Platform, install_platform, make_domain
from support import ControlPlaneHandle, localcluster, wait_until

from .invariants import assert_invariants, record_baseline, remove_baseline

__all__ = ["Faults", "make_domain"]

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_ENV = {
    "BIZDOMAIN_RESYNC_SECONDS": "5",
    "BIZDOMAIN_DEBOUNCE_SECONDS": "0.1",
    "BIZDOMAIN_DELETION_GRACE_SECONDS": "30",
}


def _e2e_platform(session: pytest.Session) -> Platform | None:
    """e2e's session `platform`, if e2e tests of this session already started it.

    pytest has no public way to reach a session fixture of a sibling directory, so this reads
    the cached value of e2e's fixture definition (private API, read only). Moving `platform` to
    tests/conftest.py would make this unnecessary."""
    e2e = ROOT / "tests" / "e2e"
    for item in session.items:
        if e2e not in Path(item.path).parents:
            continue
        info = getattr(item, "_fixtureinfo", None)
        for definition in getattr(info, "name2fixturedefs", {}).get("platform", ()):
            cached = getattr(definition, "cached_result", None)
            if cached is not None and cached[2] is None:
                return cast(Platform, cached[0])
    return None


def _operators_of_this_session() -> list[int]:
    """Operator processes this pytest process started (another suite's, if any)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and argv[1:3] == [b"-m", b"bizdomain"]:
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="package")
def platform(
    control_plane: ControlPlaneHandle, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """One operator per session: e2e's when the e2e tests already run it, else our own, stopped
    when the fault tests are done (so e2e tests after them start theirs with no overlap)."""
    shared = _e2e_platform(request.session)
    if shared is not None:
        print("\nfaults: sharing the e2e platform (one operator in this session)")
        yield shared  # e2e's fixture stops its operator at the end of the session
        return
    others = _operators_of_this_session()
    assert not others, f"another operator of this session runs (pids {others}): two operators would fight"
    install_platform(control_plane)
    log_path = tmp_path_factory.mktemp("faults-operator") / "operator.log"
    operator = OperatorProcess(kubeconfig=control_plane["host"].kubeconfig, log_path=log_path, env=OPERATOR_ENV)
    operator.start()
    plat = Platform(control_plane, operator)
    try:
        for name in MEMBERS:
            wait_until(
                lambda n=name: plat.condition(plat.get("membercluster", n)).get("status") == "True",
                timeout=60,
                what=f"member {name} Ready",
            )
        yield plat
    finally:
        operator.stop()
        print(f"\noperator log: {log_path}")
        if os.environ.get("CI"):
            print("\n".join(operator.log().splitlines()[-80:]))


@pytest.fixture(scope="package")
def baseline(platform: Platform) -> Iterator[None]:
    """Sentinels and a released namespace, made once; their uids are what must never change."""
    recorded = record_baseline(platform)
    yield
    remove_baseline(platform, recorded)


@pytest.fixture(autouse=True)
def invariants(platform: Platform, baseline: None) -> Iterator[None]:
    """After every fault test (and its cleanup): the data safety invariants hold."""
    yield
    assert_invariants(platform)


class Faults:
    """Fault switches for one test; :meth:`heal` undoes them all, in any state the test left."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.plane = platform.plane
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def stop_apiserver(self, name: str) -> None:
        """SIGKILL one API server (connections refused until :meth:`start_apiserver`)."""
        self.plane.stop_apiserver(name)

    def start_apiserver(self, name: str) -> None:
        self.plane.start_apiserver(name)

    def pause_apiserver(self, name: str) -> None:
        """SIGSTOP one API server (requests hang until :meth:`resume_apiserver`)."""
        self.plane.pause_apiserver(name)

    def resume_apiserver(self, name: str) -> None:
        self.plane.resume_apiserver(name)

    def kill_operator(self) -> None:
        """SIGKILL the operator (no cleanup handler runs) and start it again at once."""
        self.platform.operator.stop(signal.SIGKILL)
        self.platform.operator.start()

    def undo(self, what: str, action: Callable[[], object]) -> None:
        """Run ``action`` when the test ends (it must be harmless when already undone)."""
        self._undo.append((what, action))

    def heal(self) -> list[str]:
        """Every API server resumed and running, the operator alive, registered undos run."""
        errors = []
        for name in self.plane.clusters:
            with contextlib.suppress(localcluster.ControlPlaneError, ProcessLookupError):
                self.plane.resume_apiserver(name)
            try:
                self.plane.start_apiserver(name)
            except Exception as exc:  # keep healing the rest; report at the end
                errors.append(f"start {name} kube-apiserver: {exc}")
        operator = self.platform.operator
        if not operator.alive():  # kill_operator restarts at once: a dead operator crashed
            code = operator.proc.returncode if operator.proc is not None else None
            errors.append(f"the operator exited on its own (code {code}); restarted")
            operator.stop()
            operator.start()
        while self._undo:
            what, action = self._undo.pop()
            try:
                action()
            except Exception as exc:
                errors.append(f"{what}: {exc}")
        return errors


@pytest.fixture
def faults(platform: Platform) -> Iterator[Faults]:
    """Faults injected by the test, all undone at its end (request it after `make_domain`)."""
    switches = Faults(platform)
    yield switches
    errors = switches.heal()
    assert not errors, "undoing the injected faults failed:\n" + "\n".join(errors)
