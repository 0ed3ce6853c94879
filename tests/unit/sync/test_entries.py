"""The member view's compact entries: what is kept of an object, and which state is the newer."""

from __future__ import annotations

from typing import Any

from bizdomain.decide import IN_SYNC, SUBJECTS
from bizdomain.plan.budget import QUOTA_SPEC_HARD, QUOTA_STATUS
from bizdomain.sync.entries import Interner, compact, newer, version


def _obj(kind: str, name: str, rv: str = "5", **content: Any) -> dict[str, Any]:
    meta = {
        "name": name,
        "namespace": "payments-api-dev",
        "uid": f"uid-{name}",
        "resourceVersion": rv,
        "labels": {"app.kubernetes.io/managed-by": "bizdomain"},
        "annotations": {"bizdomain.io/spec-hash": "h1", "kubectl.kubernetes.io/last-applied-configuration": "x" * 500},
        "managedFields": [{"manager": "kubectl"}],
    }
    return {"kind": kind, "metadata": meta, **content}


def test_an_answer_without_a_number_counts_as_newer_and_an_older_one_never_does() -> None:
    assert newer(_obj("ConfigMap", "a", "7"), _obj("ConfigMap", "a", "6"))
    assert not newer(_obj("ConfigMap", "a", "6"), _obj("ConfigMap", "a", "6"))
    assert not newer(_obj("ConfigMap", "a", "5"), _obj("ConfigMap", "a", "6"))
    assert newer(_obj("ConfigMap", "a", ""), _obj("ConfigMap", "a", "6"))
    assert newer(_obj("ConfigMap", "a"), None)
    assert version(_obj("ConfigMap", "a", "abc")) is None


def test_an_entry_keeps_identity_and_our_annotations_only_and_shares_label_sets() -> None:
    shared = Interner()
    key = ("RoleBinding", "payments-api-dev", "a")
    subjects = [{"kind": "Group", "name": "payments-backend", "apiGroup": "rbac.authorization.k8s.io"}]
    first = compact(key, _obj("RoleBinding", "a", subjects=subjects), None, shared)
    other = ("RoleBinding", "payments-api-dev", "b")
    second = compact(other, _obj("RoleBinding", "b", subjects=subjects), None, shared)
    assert first["metadata"]["annotations"] == {"bizdomain.io/spec-hash": "h1"}
    assert "managedFields" not in first["metadata"]
    assert first[IN_SYNC] is None, "no desired object: no verdict"
    assert first["metadata"]["labels"] is second["metadata"]["labels"]
    assert first[SUBJECTS] is second[SUBJECTS]


def test_a_quota_entry_keeps_what_it_holds_and_uses_and_its_spec_until_counted() -> None:
    key = ("ResourceQuota", "payments-api-dev", "quota")
    counted = {"hard": {"pods": "10"}, "used": {"pods": "3"}}

    def quota(hard: str) -> dict[str, Any]:
        return _obj("ResourceQuota", "quota", spec={"hard": {"pods": hard}}, status=counted)

    entry = compact(key, quota("10"), None, Interner())
    assert entry[QUOTA_STATUS] == counted
    assert QUOTA_SPEC_HARD not in entry
    raised = compact(key, quota("20"), None, Interner())
    assert raised[QUOTA_SPEC_HARD] == {"pods": "20"}, "the member has not counted the new hard yet"
