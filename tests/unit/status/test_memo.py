"""The status memo: a status is computed again exactly when something it is computed from moved,
and what it returns is always what a fresh computation would return."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bizdomain import conditions as conds
from bizdomain.plan import BindingRecord, World, place
from bizdomain.plan.kept import Kept
from bizdomain.report import ClusterReport, TenantOutcome
from bizdomain.status import binding_status, domain_status
from bizdomain.status.memo import StatusMemo
from unit import factories
from unit.factories import SETTINGS

KEY = ("payments", "dev")


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A clock the test moves: a status computed again would show a later lastTransitionTime."""
    clock = ["2026-12-01T10:00:00Z"]
    monkeypatch.setattr(conds, "now", lambda: clock[0])
    return clock


def _world(binding: BindingRecord | None = None, pods: str = "10") -> World:
    spec = factories.domain_spec_dict(budgets=[{"environment": "dev", "hard": {"pods": pods}}])
    return factories.world(
        [factories.domain(spec=spec)],
        [binding or factories.binding()],
        [factories.member("dev-a"), factories.member("dev-b")],
    )


def _report(cluster: str, used: str = "1", *namespaces: str) -> ClusterReport:
    """A pass's report, built anew as every pass builds its own (equal values, new objects)."""
    tenant = TenantOutcome(
        *KEY,
        namespaces=list(namespaces or ("payments",)),
        generations=(1, 1),
        quota_hard={"pods": Decimal(4)},
        quota_used={"pods": Decimal(used)},
    )
    return ClusterReport(cluster=cluster, ok=True, tenants={KEY: tenant}, kept={})


def _round(memo: StatusMemo, world: World, reports: dict[str, ClusterReport]) -> tuple[object, dict[str, object]]:
    """One status round over the one binding and its domain, checked against a fresh computation."""
    (binding,) = world.bindings.values()
    (domain,) = world.domains.values()
    placement = place(world)
    status, wire = memo.binding(binding, world, reports, placement)
    assert wire == binding_status(binding, world, reports, SETTINGS, placement).to_wire()
    _, dwire = memo.domain(domain, [(binding, status)], None)
    assert dwire == domain_status(domain, [(binding, status)], SETTINGS).to_wire()
    return status, wire


def test_the_same_inputs_are_not_computed_again() -> None:
    memo, world = StatusMemo(SETTINGS), _world()
    first, _ = _round(memo, world, {"dev-a": _report("dev-a"), "dev-b": _report("dev-b")})
    assert memo.computed == 2
    again, _ = _round(memo, world, {"dev-a": _report("dev-a"), "dev-b": _report("dev-b")})  # a new pass, same values
    assert again is first
    assert memo.computed == 2


@pytest.mark.parametrize(
    "change",
    [
        "a member's pass placed another namespace",
        "the quota used on a member moved",
        "a member went down",
        "a member's first pass came in",
        "a namespace beside the bindings holds quota",
        "the binding changed",
        "the domain changed",
        "the binding's status was written back",
    ],
)
def test_each_input_that_moves_computes_the_status_again(change: str, clock: list[str]) -> None:
    memo, world = StatusMemo(SETTINGS), _world()
    reports = {"dev-a": _report("dev-a"), "dev-b": _report("dev-b")}
    before, wire_before = _round(memo, world, reports)
    clock[0] = "2026-12-01T10:05:00Z"
    if change == "a member's pass placed another namespace":
        reports["dev-a"] = _report("dev-a", "1", "payments", "payments-api")
    elif change == "the quota used on a member moved":
        reports["dev-b"] = _report("dev-b", "3")
    elif change == "a member went down":
        reports["dev-a"] = ClusterReport(cluster="dev-a", ok=False, reason="ClusterUnreachable", message="refused")
    elif change == "a member's first pass came in":
        del reports["dev-b"]
        _round(memo, world, reports)
        reports["dev-b"] = _report("dev-b")
    elif change == "a namespace beside the bindings holds quota":
        kept = Kept("dev-a", "payments-sbx", {"pods": "2"}, {}, released=True, protected=False)
        reports["dev-a"] = dataclasses.replace(_report("dev-a"), kept={KEY: (kept,)})
    elif change == "the binding changed":
        world = _world(factories.binding(generation=2))
    elif change == "the domain changed":
        world = _world(pods="20")
    else:  # the echo of our own write: a new record, whose conditions are now the previous ones
        (binding,) = world.bindings.values()
        world = _world(dataclasses.replace(binding, status=wire_before))
    computed = memo.computed
    after, _ = _round(memo, world, reports)  # and still what a fresh computation says
    assert after is not before
    assert memo.computed == computed + 2  # the binding, and so its domain


def test_a_status_taken_from_the_memo_keeps_its_transition_time(clock: list[str]) -> None:
    # The object is written once per change: a second round before the write comes back through the
    # watch must not take a new lastTransitionTime for the same flip (and so write it again).
    memo, world = StatusMemo(SETTINGS), _world()
    reports = {"dev-a": _report("dev-a"), "dev-b": _report("dev-b")}
    _, wire = _round(memo, world, reports)
    clock[0] = "2026-12-01T10:00:07Z"
    (binding,) = world.bindings.values()
    _, again = memo.binding(binding, world, reports, place(world))
    assert again == wire
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2026-12-01T10:00:00Z"}


def test_without_a_budget_only_the_selected_members_passes_are_read() -> None:
    spec = factories.domain_spec_dict(budgets=[])
    world = factories.world(
        [factories.domain(spec=spec)],
        [factories.binding(spec=factories.binding_spec_dict("dev", clusters={"names": ["dev-a"]}))],
        [factories.member("dev-a"), factories.member("dev-b")],
    )
    memo = StatusMemo(SETTINGS)
    first, _ = _round(memo, world, {"dev-a": _report("dev-a"), "dev-b": _report("dev-b")})
    elsewhere, _ = _round(memo, world, {"dev-a": _report("dev-a"), "dev-b": _report("dev-b", "7")})
    assert elsewhere is first
    moved = _report("dev-a", "1", "payments", "payments-api")
    here, _ = _round(memo, world, {"dev-a": moved, "dev-b": _report("dev-b")})
    assert here is not first


def test_bindings_and_domains_gone_from_the_world_are_forgotten() -> None:
    memo, world = StatusMemo(SETTINGS), _world()
    _round(memo, world, {})
    memo.keep_only(factories.world())
    computed = memo.computed
    _round(memo, world, {})
    assert memo.computed == computed + 2
