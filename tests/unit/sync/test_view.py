"""The member view's bookkeeping, without a server: verdicts, versions, drift and staleness.

What the view does against a real API server (lists, watches, preconditions) is in
tests/integration/sync/test_view.py.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, cast

import pytest

from bizdomain import names
from bizdomain.decide import IN_SYNC, in_sync
from bizdomain.members import Kube, KubeError
from bizdomain.plan import Desired
from bizdomain.plan.budget import QUOTA_SPEC_HARD, QUOTA_STATUS
from bizdomain.plan.objects import build, tenant_labels
from bizdomain.sync.view import MemberView

JSON = dict[str, Any]


class _NoServer:
    cluster = "dev"


# The namespace the quotas below live in: the pay tenant's (released here, so it is no managed object itself).
PAY_NAMESPACE = {
    "kind": "Namespace",
    "metadata": {
        "name": "pay",
        "uid": "ns-1",
        "resourceVersion": "1",
        "labels": {"bizdomain.io/domain": "pay", "bizdomain.io/environment": "dev", "bizdomain.io/released": "true"},
    },
}


def _view(drifted: list[str] | None = None) -> MemberView:
    view = MemberView(cast(Kube, _NoServer()), drift=drifted.append if drifted is not None else None, watch=False)
    view.seen(copy.deepcopy(PAY_NAMESPACE))
    return view


def _quota(pods: str = "10") -> Desired:
    return build(
        "ResourceQuota", names.QUOTA_NAME, "pay", tenant_labels("pay", "dev"), {"spec": {"hard": {"pods": pods}}}
    )


def _live(desired: Desired, version: str, **spec: Any) -> JSON:
    """What the server would answer: the desired body plus server fields."""
    obj = copy.deepcopy(desired.body)
    obj["metadata"].update(uid="u-1", resourceVersion=version, managedFields=[{"manager": "x"}])
    obj["spec"].update(spec)
    obj["status"] = {"used": {"pods": "0"}}
    return obj


def test_an_object_holding_its_desired_body_is_in_sync_and_kept_compact() -> None:
    view, desired = _view(), _quota()
    view.expect([desired], replace=True)
    view.seen(_live(desired, "5"))
    entry = view.managed()[desired.key]
    assert in_sync(desired, entry)
    # a quota also keeps its status (hard, used): the domain's budget is folded from it, no request of its own
    # (and its spec's hard while the member's quota controller has not counted it yet)
    assert set(entry) == {"kind", "metadata", IN_SYNC, QUOTA_STATUS, QUOTA_SPEC_HARD}
    assert entry[QUOTA_STATUS] == {"used": {"pods": "0"}}
    assert "managedFields" not in entry["metadata"]
    assert entry["metadata"]["resourceVersion"] == "5"
    hard = desired.body["spec"]["hard"]
    assert view.quota_statuses() == {desired.namespace: {"hard": hard, "used": {"pods": "0"}}}
    counted = _live(desired, "6")
    counted["status"]["hard"] = hard
    view.seen(counted)
    assert QUOTA_SPEC_HARD not in view.managed()[desired.key], "once counted, status.hard is enough"
    assert view.quota_statuses() == {desired.namespace: {"hard": hard, "used": {"pods": "0"}}}


def test_a_changed_plan_makes_the_same_object_out_of_sync() -> None:
    view, old, new = _view(), _quota("10"), _quota("20")
    view.expect([old], replace=True)
    view.seen(_live(old, "5"))
    view.expect([new], replace=True)
    assert not in_sync(new, view.managed()[new.key])


def test_an_object_seen_before_its_plan_is_unjudged_and_needs_an_apply() -> None:
    view, desired = _view(), _quota()
    view.seen(_live(desired, "5"))
    assert view.managed()[desired.key][IN_SYNC] is None
    assert not in_sync(desired, view.managed()[desired.key])


def test_an_older_answer_never_replaces_a_newer_one() -> None:
    view, desired = _view(), _quota()
    view.expect([desired], replace=True)
    view.seen(_live(desired, "7"))
    view.seen(_live(desired, "6", hard={"pods": "99"}))  # late, and drifted: ignored
    assert view.managed()[desired.key]["metadata"]["resourceVersion"] == "7"
    assert in_sync(desired, view.managed()[desired.key])


def test_a_hand_edit_seen_by_the_watch_reports_drift_for_its_domain() -> None:
    drifted: list[str] = []
    view, desired = _view(drifted), _quota()
    view.expect([desired], replace=True)
    view.seen(_live(desired, "5"))
    view._event("MODIFIED", _live(desired, "6", hard={"pods": "99"}))
    assert drifted == ["pay"]
    assert not in_sync(desired, view.managed()[desired.key])
    view._event("MODIFIED", _live(desired, "7"))  # put back: no new drift
    view._event("DELETED", _live(desired, "8"))  # deleted by someone: drift again
    assert drifted == ["pay", "pay"]
    assert desired.key not in view.managed()


class _Lists:
    """A server that only answers lists, with the objects given (every kind but quotas: none)."""

    cluster = "dev"

    def __init__(self, quotas: list[JSON], version: str) -> None:
        self.quotas, self.version = quotas, version

    async def list_version(self, kind: str, each: Any, label_selector: str | None = None) -> str:
        for obj in copy.deepcopy(self.quotas if kind == "ResourceQuota" else [PAY_NAMESPACE] * (kind == "Namespace")):
            each(obj)
        return self.version


def test_a_hand_edit_a_relist_brings_reports_drift_as_a_watch_event_would() -> None:
    # A watch whose resourceVersion expired (410) relists: what changed meanwhile must not pass unreported.
    drifted: list[str] = []
    desired = _quota()
    server = _Lists([_live(desired, "6", hard={"pods": "99"})], "9")
    view = MemberView(cast(Kube, server), drift=drifted.append, watch=False)
    view.seen(copy.deepcopy(PAY_NAMESPACE))
    view.expect([desired], replace=True)
    view.seen(_live(desired, "5"))
    asyncio.run(view.relist())
    assert drifted == ["pay"]
    assert not in_sync(desired, view.managed()[desired.key])
    asyncio.run(view.relist())  # the same state listed again: nothing new
    server.quotas, server.version = [], "12"  # deleted by someone while the watch was away
    view.seen(_live(desired, "10"))
    asyncio.run(view.relist())
    assert drifted == ["pay", "pay"]
    assert desired.key not in view.managed()


def test_a_relist_after_the_plan_moved_on_is_not_drift() -> None:
    drifted: list[str] = []
    old, new = _quota("10"), _quota("20")
    view = MemberView(cast(Kube, _Lists([_live(old, "6")], "9")), drift=drifted.append, watch=False)
    view.seen(copy.deepcopy(PAY_NAMESPACE))
    view.expect([old], replace=True)
    view.seen(_live(old, "5"))
    view.expect([new], replace=True)
    asyncio.run(view.relist())
    assert drifted == []
    assert not in_sync(new, view.managed()[new.key])


def test_the_operators_own_change_of_plan_is_not_drift() -> None:
    drifted: list[str] = []
    view, old, new = _view(drifted), _quota("10"), _quota("20")
    view.expect([old], replace=True)
    view.seen(_live(old, "5"))
    view.expect([new], replace=True)
    view._event("MODIFIED", _live(old, "6", hard={"pods": "10"}))  # an older write, seen late
    assert drifted == []


def test_managed_is_scoped_by_domain_and_skips_foreign_objects() -> None:
    view, desired = _view(), _quota()
    view.seen(_live(desired, "5"))
    foreign = {"kind": "Namespace", "metadata": {"name": "theirs", "resourceVersion": "3", "uid": "u-2"}}
    view.seen(foreign)
    assert set(view.managed(frozenset({"pay"}))) == {desired.key}
    assert view.managed(frozenset({"other"})) == {}
    assert "theirs" in view.namespaces()
    view.gone(desired.key)
    assert view.managed() == {}


def test_a_view_never_listed_is_stale() -> None:
    view = _view()
    with pytest.raises(KubeError, match="not listed yet"):
        view.check()


def test_entries_share_label_sets_and_keep_only_our_annotations() -> None:
    view, desired = _view(), _quota()
    a = _live(desired, "5")
    b = copy.deepcopy(a)
    b["metadata"]["name"] = "other"
    b["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{...}" * 1000
    view.seen(a)
    view.seen(b)
    entries = view.managed()
    first, second = entries[desired.key], entries[("ResourceQuota", "pay", "other")]
    assert first["metadata"]["labels"] is second["metadata"]["labels"]
    assert set(second["metadata"]["annotations"]) == {"bizdomain.io/spec-hash"}


def test_the_watch_echo_of_an_applied_object_is_not_judged_twice() -> None:
    drifted: list[str] = []
    view, desired = _view(drifted), _quota()
    view.expect([desired], replace=True)
    answer = _live(desired, "5")
    view.seen(answer)
    entry = view.managed()[desired.key]
    view._event("MODIFIED", copy.deepcopy(answer))  # the same write, seen again through the watch
    assert view.managed()[desired.key] is entry
    assert drifted == []


def test_an_object_claiming_another_tenant_than_its_namespace_is_nobodys() -> None:
    """A member admin of pay can create (or relabel) a RoleBinding in pay's namespace that claims
    another domain: it is not that domain's to prune or report on, nor pay's (pay did not make it)."""
    drifted: list[str] = []
    view = _view(drifted)
    forged = build("RoleBinding", "x", "pay", tenant_labels("dispatch", "prod"), {"subjects": []})
    ours = _quota()
    view.expect([ours], replace=True)
    view.seen(_live(ours, "5"))
    view.seen({**forged.body, "metadata": {**forged.body["metadata"], "uid": "u-9", "resourceVersion": "6"}})
    assert set(view.managed()) == {ours.key}
    assert view.managed(frozenset({"dispatch"})) == {}
    # ours relabelled by hand to claim dispatch: pay's drift (its namespace's), not dispatch's
    relabelled = _live(ours, "7")
    relabelled["metadata"]["labels"] = tenant_labels("dispatch", "prod")
    view._event("MODIFIED", relabelled)
    assert drifted == ["pay"]
    assert ours.key not in view.managed(), "re-applied as missing, never pruned as dispatch's"


def test_an_object_in_a_namespace_the_view_does_not_know_is_not_managed() -> None:
    view = MemberView(cast(Kube, _NoServer()), watch=False)
    view.seen(_live(_quota(), "5"))
    assert view.managed() == {}


def test_a_no_op_apply_answer_judges_the_object_again() -> None:
    """Seen at N=1000 with budgets: an object judged while the view expected another plan kept its
    stale verdict for good. The pass applied it, the server changed nothing (same resourceVersion),
    the answer was dropped as not newer, and every full pass "corrected" the same 12 objects again."""
    view, desired = _view(), _quota()
    view.seen(_live(desired, "5"))  # arrived while the view expected nothing for it
    assert not in_sync(desired, view.managed()[desired.key])
    view.expect([desired], replace=True)
    view.seen(_live(desired, "5"))  # the apply's answer: unchanged on the server
    assert in_sync(desired, view.managed()[desired.key])


def test_a_full_pass_keeps_the_newer_plan_of_a_domain_it_leaves_to_the_partial_lane() -> None:
    """Full and partial passes share the view. The partial lane expects a domain's new objects; a full
    pass planned from an older host snapshot and leaving that domain alone must not replace them, or
    the partial lane's answers are judged against the old plan."""
    view, old, new = _view(), _quota("10"), _quota("20")
    view.expect([new], replace=False)  # the partial lane, with the newer spec
    view.expect([old], replace=True, keep={new.key})  # the full pass, which skips the domain
    view.seen(_live(new, "5"))
    assert in_sync(new, view.managed()[new.key])
