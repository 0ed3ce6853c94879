"""Fixtures of the fault tests: the running operator, the faults a test injects (always undone),
and the data safety invariants checked after every test.

`platform` is the session's one operator (tests/conftest.py): the CRDs, the members joined with
`bizdomain join`, and `python -m bizdomain` as a subprocess with a 5 s re-sync, shared with the
e2e tests (two operators would fight over the same objects, and killing one would prove nothing).

`faults` injects faults and undoes every one of them when the test ends, pass or fail, before
the test's domains are cleaned up (request it after `make_domain`): API servers resumed and
running, the operator alive, and whatever the test registered with `faults.undo(...)`.

After every test (autouse) `assert_invariants(platform)` checks that nothing that must never be
deleted was, and that nothing managed was left behind (see invariants.py).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator

import pytest

import localcluster
from support.platform import Platform

from .invariants import assert_invariants, record_baseline, remove_baseline

__all__ = ["Faults"]


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


class Faults(localcluster.Faults):
    """The control plane's fault switches (stop, start, pause, resume an API server), plus the
    operator's and undos of the test's own; :meth:`heal` undoes them all, in any state the test left."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform.plane.plane)
        self.platform = platform
        self._undo: list[tuple[str, Callable[[], object]]] = []

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
        for name in self.platform.plane.clusters:
            with contextlib.suppress(localcluster.ControlPlaneError, ProcessLookupError):
                self.resume_apiserver(name)
            try:
                self.start_apiserver(name)
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
