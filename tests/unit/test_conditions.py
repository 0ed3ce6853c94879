"""The condition rules both host statuses and member Workspaces follow."""

from __future__ import annotations

import pytest

from bizdomain import names
from bizdomain.conditions import Verdict, blocking, conditions, now, same_status, since
from bizdomain.plan import Problem

THEN = "2026-01-01T00:00:00Z"


def test_now_is_whole_seconds_in_utc() -> None:
    stamp = now()
    assert stamp.endswith("Z")
    assert len(stamp) == len(THEN)


def test_only_warnings_do_not_block() -> None:
    conflict = Problem(names.Reason.NAMESPACE_CONFLICT, "taken")
    waiting = Problem(names.Reason.DELETION_BLOCKED, "waiting")
    assert blocking([waiting, conflict]) == [conflict]
    assert blocking([waiting]) == []


@pytest.mark.parametrize(
    ("previous", "status", "kept"),
    [
        ({"status": "True", "lastTransitionTime": THEN}, "True", True),
        ({"status": "False", "lastTransitionTime": THEN}, "True", False),
        (None, "True", False),
        ({"status": "True"}, "True", False),
    ],
)
def test_the_transition_time_moves_only_when_the_status_flips(
    previous: dict[str, str] | None, status: str, kept: bool
) -> None:
    assert (since(previous, status) == THEN) is kept


@pytest.mark.parametrize(
    ("verdict", "flags"),
    [
        (Verdict.converged("Reconciled", "ok"), ("True", "False", "False")),
        (Verdict.progressing("Progressing", "on its way"), ("False", "True", "False")),
        (Verdict.failed("SyncFailed", "broken"), ("False", "False", "True")),
        (Verdict.failed("SyncFailed", "broken", reconciling=True), ("False", "True", "True")),
    ],
)
def test_a_verdict_gives_ready_reconciling_degraded(verdict: Verdict, flags: tuple[str, str, str]) -> None:
    built = conditions(verdict, 3, [])
    assert [c.type for c in built] == [names.COND_READY, names.COND_RECONCILING, names.COND_DEGRADED]
    assert tuple(c.status for c in built) == flags
    assert all(c.observed_generation == 3 for c in built)
    assert built[0].message == verdict.message, "Ready always says why"
    assert [c.message for c in built[1:] if c.status == "False"] == [""] * flags[1:].count("False")


def test_conditions_keep_their_transition_time_while_they_hold() -> None:
    previous = [{"type": names.COND_READY, "status": "True", "lastTransitionTime": THEN}]
    [ready, *_] = conditions(Verdict.converged("Reconciled", "a new message"), 1, previous)
    assert ready.last_transition_time == THEN
    [ready, *_] = conditions(Verdict.failed("SyncFailed", "broken"), 1, previous)
    assert ready.last_transition_time != THEN


def test_same_status_is_the_same_fields_with_the_same_values() -> None:
    assert same_status({"a": 1}, {"a": 1})
    assert not same_status({"a": 1}, {"a": 2})
    assert not same_status({"a": 1}, {"a": 1, "b": 2})
    assert not same_status({"a": 1, "b": 2}, {"a": 1})
