"""What a member's passes add up to: pure rules the member worker and the status loop follow.

:func:`merge_pass` folds one pass (full, or partial over some domains) into what the member's
status reports; :func:`cleanup_state` says whether a deleted tenant is gone from every member;
:func:`retry_delay` and :func:`pass_failed` are the full lane's back-off. No I/O, no clock:
unit-tested in ``tests/unit/runtime/test_passes.py``. Called by :mod:`bizdomain.runtime.worker`
and :class:`bizdomain.runtime.Runtime`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from bizdomain.plan import MemberRecord
from bizdomain.report import ClusterReport


@dataclass
class Pass:
    """A cluster report with when its pass started (wall clock) and its sequence number."""

    report: ClusterReport
    started: datetime.datetime  # when the last *full* pass started
    seq: int
    covered: dict[str, datetime.datetime] = field(default_factory=dict)  # domain -> newest partial pass
    skipped: frozenset[str] = frozenset()  # domains the full pass left to the partial lane

    def synced_since(self, domain: str, since: datetime.datetime) -> bool:
        partial = self.covered.get(domain)
        full = self.started >= since and domain not in self.skipped
        return full or (partial is not None and partial >= since)


@dataclass(frozen=True)
class Merged:
    """What a member reports after a pass, and whether a full pass is wanted now."""

    last: Pass
    wants_full: bool = False  # a partial pass that could not be merged is no baseline


def merge_pass(
    previous: Pass | None,
    report: ClusterReport,
    started: datetime.datetime,
    scope: frozenset[str] | None,
    seq: int,
) -> Merged:
    """Keep a full pass as is; merge a partial one (over ``scope``) into the last full pass's report.

    A full pass that left domains to the partial lane (they changed while it ran) keeps the
    previous pass's outcomes for them. A partial pass merges only onto a successful full one,
    and only when it succeeded too; otherwise it stands alone and asks for a full pass. A pass
    that did not read the member keeps the quotas the last one saw (they are still there).
    """
    if report.kept is None and previous is not None and previous.report.kept is not None:
        report = replace(report, kept=previous.report.kept)
    if scope is None and report.skipped and previous is not None and report.ok and previous.report.ok:
        old = previous.report
        kept = replace(
            report,
            tenants={**report.tenants, **{k: v for k, v in old.tenants.items() if k[0] in report.skipped}},
            leftovers=report.leftovers | {k for k in old.leftovers if k[0] in report.skipped},
        )
        covered = {d: t for d, t in previous.covered.items() if d in report.skipped}
        return Merged(Pass(kept, started, seq, covered, frozenset(report.skipped)))
    if scope is None or previous is None or not report.ok or not previous.report.ok:
        return Merged(Pass(report, started, seq, skipped=frozenset(report.skipped)), wants_full=scope is not None)
    old = previous.report
    merged = ClusterReport(
        report.cluster,
        ok=True,
        reason=old.reason,
        message=old.message,
        tenants={**{k: v for k, v in old.tenants.items() if k[0] not in scope}, **report.tenants},
        leftovers={k for k in old.leftovers if k[0] not in scope} | report.leftovers,
        writes=report.writes,
        kept=report.kept,
    )
    covered = {**previous.covered, **dict.fromkeys(scope, started)}
    return Merged(Pass(merged, previous.started, seq, covered, previous.skipped - scope))


def pass_failed(report: ClusterReport | None) -> bool:
    """Whether a full pass failed (no report, the member failed, or any tenant did)."""
    return report is None or not report.ok or any(not t.ok for t in report.tenants.values())


def retry_delay(failures: int, resync_seconds: float) -> float:
    """When the full lane runs again: after failures 1 s, 2 s, 4 s, ... up to the resync interval."""
    return min(resync_seconds, 2 ** (failures - 1)) if failures else resync_seconds


def cleanup_state(
    passes: Mapping[str, Pass],
    members: Iterable[MemberRecord],
    domain: str,
    environment: str | None,
    since: datetime.datetime,
) -> tuple[bool, list[str]]:
    """Whether every member has been synced since ``since`` with nothing of the tenant left.

    Returns (done, clusters that block it because their last pass failed).
    """
    done, blocked = True, []
    for member in members:
        if member.deleting:
            continue
        last = passes.get(member.name)
        if last is None or not last.synced_since(domain, since):
            done = False
            continue
        if not last.report.ok:
            done = False
            blocked.append(member.name)
            continue
        if any(d == domain and environment in (None, e) for d, e in last.report.leftovers):
            done = False
    return done, blocked
