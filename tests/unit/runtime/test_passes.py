"""What a member's passes add up to: merging a pass into what status reports, back-off, cleanup."""

from __future__ import annotations

import datetime
from dataclasses import replace

import pytest

from bizdomain import names
from bizdomain.plan.kept import Kept
from bizdomain.report import ClusterReport, TenantOutcome
from bizdomain.runtime.passes import Pass, cleanup_state, merge_pass, pass_failed, retry_delay
from unit import factories

T0 = datetime.datetime(2026, 12, 1, 3, 0, tzinfo=datetime.UTC)
T1, T2 = T0 + datetime.timedelta(seconds=10), T0 + datetime.timedelta(seconds=20)


def report(*tenants: tuple[str, str], ok: bool = True, leftovers: tuple[tuple[str, str], ...] = ()) -> ClusterReport:
    out = ClusterReport("dev", ok=ok, reason=names.Reason.RECONCILED if ok else names.Reason.CLUSTER_UNREACHABLE)
    for key in tenants:
        out.tenants[key] = TenantOutcome(*key)
    out.leftovers = set(leftovers)
    return out


def full(*tenants: tuple[str, str], ok: bool = True, leftovers: tuple[tuple[str, str], ...] = ()) -> Pass:
    return merge_pass(None, report(*tenants, ok=ok, leftovers=leftovers), T0, None, 1).last


def test_a_first_full_pass_is_kept_as_is() -> None:
    first = report(("a", "dev"))
    merged = merge_pass(None, first, T0, None, 7)
    assert merged.last.report is first
    assert (merged.last.started, merged.last.seq, merged.wants_full) == (T0, 7, False)


def test_a_partial_pass_replaces_only_its_domains() -> None:
    before = full(("a", "dev"), ("b", "dev"), leftovers=(("b", "dev"),))
    partial = report(("b", "dev"))
    merged = merge_pass(before, partial, T1, frozenset({"b"}), 2)
    last = merged.last
    assert not merged.wants_full
    assert last.report.tenants[("a", "dev")] is before.report.tenants[("a", "dev")]
    assert last.report.tenants[("b", "dev")] is partial.tenants[("b", "dev")]
    assert last.report.leftovers == set(), "b's leftovers are b's newest pass's"
    assert last.started == T0, "the last full pass still dates the others"
    assert last.covered == {"b": T1}


def test_a_partial_pass_without_a_good_full_one_stands_alone_and_asks_for_a_full_one() -> None:
    failed = full(ok=False)
    partial = report(("b", "dev"))
    merged = merge_pass(failed, partial, T1, frozenset({"b"}), 2)
    assert merged.wants_full
    assert merged.last.report is partial
    assert merge_pass(None, partial, T1, frozenset({"b"}), 2).wants_full


def test_the_quotas_a_member_holds_stand_until_a_pass_reads_the_member_again() -> None:
    held: dict[tuple[str, str], tuple[Kept, ...]] = {
        ("a", "dev"): (Kept("dev", "a-old", {"pods": "5"}, {}, released=True, protected=False),)
    }
    before = merge_pass(None, replace(report(("a", "dev")), kept=held), T0, None, 1).last
    unreachable = merge_pass(before, report(ok=False), T1, None, 2).last
    assert unreachable.report.kept == held, "a member that did not answer still holds its quotas"
    partial = merge_pass(before, replace(report(("a", "dev")), kept={}), T1, frozenset({"a"}), 2).last
    assert partial.report.kept == {}, "a pass that read the member says what it holds now"


def test_a_failed_partial_pass_is_no_merge() -> None:
    merged = merge_pass(full(("a", "dev")), report(ok=False), T1, frozenset({"a"}), 2)
    assert merged.wants_full
    assert not merged.last.report.ok


def test_a_full_pass_keeps_the_outcomes_of_the_domains_it_left_to_the_partial_lane() -> None:
    before = merge_pass(full(("a", "dev"), ("b", "dev")), report(("b", "dev")), T1, frozenset({"b"}), 2).last
    new = report(("a", "dev"))
    new.skipped = {"b"}
    last = merge_pass(before, new, T2, None, 3).last
    assert set(last.report.tenants) == {("a", "dev"), ("b", "dev")}
    assert last.report.tenants[("b", "dev")] is before.report.tenants[("b", "dev")]
    assert last.skipped == frozenset({"b"})
    assert last.covered == {"b": T1}
    assert new.tenants.keys() == {("a", "dev")}, "the pass's own report is not changed"


def test_synced_since_counts_full_passes_except_skipped_domains_and_partial_ones() -> None:
    last = Pass(report(), T1, 1, covered={"b": T2}, skipped=frozenset({"c"}))
    assert last.synced_since("a", T0)
    assert not last.synced_since("a", T2)
    assert last.synced_since("b", T2)
    assert not last.synced_since("c", T0)


@pytest.mark.parametrize(("failures", "delay"), [(0, 60), (1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (20, 60)])
def test_retry_delay_doubles_up_to_the_resync_interval(failures: int, delay: float) -> None:
    assert retry_delay(failures, 60) == delay


def test_a_pass_failed_when_missing_or_any_tenant_failed() -> None:
    assert pass_failed(None)
    assert pass_failed(report(ok=False))
    bad = report(("a", "dev"))
    bad.tenants[("a", "dev")].ok = False
    assert pass_failed(bad)
    assert not pass_failed(report(("a", "dev")))


def test_cleanup_waits_for_every_live_member_and_names_the_failing_ones() -> None:
    members = [factories.member("dev"), factories.member("prod", ("prod",)), factories.member("gone", deleting=True)]
    good = Pass(report(), T1, 1)
    assert cleanup_state({"dev": good, "prod": good}, members, "a", None, T0) == (True, [])
    assert cleanup_state({"dev": good}, members, "a", None, T0) == (False, [])
    down = Pass(report(ok=False), T1, 2)
    assert cleanup_state({"dev": good, "prod": down}, members, "a", None, T0) == (False, ["prod"])
    left = Pass(report(leftovers=(("a", "prod"),)), T1, 3)
    assert cleanup_state({"dev": good, "prod": left}, members, "a", "prod", T0) == (False, [])
    assert cleanup_state({"dev": good, "prod": left}, members, "a", "dev", T0) == (True, [])
    assert cleanup_state({"dev": good, "prod": good}, members, "a", None, T2) == (False, []), "not synced since"
