"""needs_apply / contains: a steady state must make no write, and drift must be seen."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bizdomain.plan import Desired
from bizdomain.plan.compare import contains, needs_apply
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, build, tenant_labels

LABELS = tenant_labels("payments", "dev")


def quota(hard: dict[str, str] | None = None) -> Desired:
    return build(
        "ResourceQuota",
        "bizdomain-quota",
        "payments",
        LABELS,
        {"spec": {"hard": hard or {"cpu": "2", "memory": "1Gi"}}},
    )


def role_binding() -> Desired:
    content = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bizdomain.io:admin"},
        "subjects": [
            {"kind": "Group", "name": "sre", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "User", "name": "oncall@example.com", "apiGroup": "rbac.authorization.k8s.io"},
        ],
    }
    return build("RoleBinding", "bizdomain.io:department:sre:admin", "payments", LABELS, content)


def as_served(desired: Desired) -> dict[str, Any]:
    """What the API server returns for an applied object: ours plus the keys it adds."""
    live = copy.deepcopy(desired.body)
    meta = live["metadata"]
    meta.update(
        uid="0b0e6c2a-0000-4000-8000-000000000000",
        resourceVersion="4711",
        creationTimestamp="2024-01-01T00:00:00Z",
        managedFields=[{"manager": "bizdomain", "operation": "Apply"}],
    )
    meta["labels"]["kubernetes.io/metadata.name"] = desired.name
    meta["annotations"]["someone.else/note"] = "hi"
    if desired.kind == "ResourceQuota":
        live["spec"]["scopes"] = []
        live["status"] = {"hard": dict(live["spec"]["hard"]), "used": {"cpu": "0"}}
    return live


def test_missing_live_object_needs_apply() -> None:
    assert needs_apply(quota().body, None)


@pytest.mark.parametrize("desired", [quota(), role_binding()], ids=["quota", "rolebinding"])
def test_identical_object_needs_no_apply(desired: Desired) -> None:
    assert not needs_apply(desired.body, copy.deepcopy(desired.body))


@pytest.mark.parametrize("desired", [quota(), role_binding()], ids=["quota", "rolebinding"])
def test_keys_the_server_adds_need_no_apply(desired: Desired) -> None:
    assert not needs_apply(desired.body, as_served(desired))


def drifted(desired: Desired, change: str) -> dict[str, Any]:
    live = as_served(desired)
    meta = live["metadata"]
    if change == "label-changed":
        meta["labels"]["bizdomain.io/domain"] = "billing"
    elif change == "label-removed":
        del meta["labels"]["bizdomain.io/environment"]
    elif change == "labels-gone":
        del meta["labels"]
    elif change == "annotation-changed":
        meta["annotations"][ANNOTATION_SPEC_HASH] = "0000000000000000"
    elif change == "annotations-gone":
        del meta["annotations"]
    elif change == "spec-edited-by-hand":
        live["subjects"][0]["name"] = "intruders"
    elif change == "subject-added":
        live["subjects"].append({"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"})
    elif change == "subject-removed":
        live["subjects"].pop()
    elif change == "field-removed":
        del live["roleRef"]
    return live


@pytest.mark.parametrize(
    "change",
    [
        "label-changed",
        "label-removed",
        "labels-gone",
        "annotation-changed",
        "annotations-gone",
        "spec-edited-by-hand",
        "subject-added",
        "subject-removed",
        "field-removed",
    ],
)
def test_drift_needs_apply(change: str) -> None:
    desired = role_binding()
    assert needs_apply(desired.body, drifted(desired, change))


def test_changed_spec_needs_apply_through_the_hash() -> None:
    old, new = quota({"cpu": "2", "memory": "1Gi"}), quota({"cpu": "2"})
    # The live object still holds every key we want (a removed key), only the hash tells.
    assert contains(new.body["spec"], as_served(old)["spec"])
    assert needs_apply(new.body, as_served(old))


def test_own_annotation_value_changed_needs_apply() -> None:
    desired = build("Namespace", "payments", None, LABELS, {}, {"bizdomain.io/deletion-policy": "Delete"})
    live = as_served(desired)
    live["metadata"]["annotations"]["bizdomain.io/deletion-policy"] = "Retain"
    assert needs_apply(desired.body, live)


@pytest.mark.parametrize(
    ("want", "have"),
    [
        ("1Gi", "1024Mi"),
        ("0.5", "500m"),
        ("1", "1000m"),
        ("2", 2),
        ("1k", "1000"),
        ("1e3", "1k"),
        ("0", "0m"),
    ],
)
def test_quantities_compare_by_value(want: str, have: str | int) -> None:
    assert contains(want, have)
    desired = quota({"memory": want})
    live = as_served(desired)
    live["spec"]["hard"]["memory"] = have
    assert not needs_apply(desired.body, live)


@pytest.mark.parametrize(("want", "have"), [("1Gi", "1G"), ("500m", "0.6"), ("2", "3"), ("1", "")])
def test_different_quantities_differ(want: str, have: str) -> None:
    assert not contains(want, have)
    desired = quota({"cpu": want})
    live = as_served(desired)
    live["spec"]["hard"]["cpu"] = have
    assert needs_apply(desired.body, live)


@pytest.mark.parametrize(
    ("want", "have", "expected"),
    [
        pytest.param({"a": 1}, {"a": 1, "b": 2}, True, id="extra-key-in-live"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, False, id="missing-key-in-live"),
        pytest.param({"a": {"b": "x"}}, {"a": {"b": "x", "c": "y"}}, True, id="nested-extra"),
        pytest.param({"a": {"b": "x"}}, {"a": "x"}, False, id="map-vs-scalar"),
        pytest.param([1, 2], [1, 2], True, id="same-list"),
        pytest.param([1, 2], [1, 2, 3], False, id="live-list-longer"),
        pytest.param([1, 2, 3], [1, 2], False, id="live-list-shorter"),
        pytest.param([1, 2], [2, 1], False, id="list-order-matters"),
        pytest.param([{"a": 1}], [{"a": 1, "b": 2}], True, id="list-of-maps-subset"),
        pytest.param([], {}, False, id="list-vs-map"),
        pytest.param("x", "y", False, id="strings-differ"),
        pytest.param("true", "true", True, id="same-non-quantity-string"),
        pytest.param(True, "true", False, id="bool-vs-string"),
        pytest.param(None, None, True, id="none"),
    ],
)
def test_contains(want: Any, have: Any, expected: bool) -> None:
    assert contains(want, have) is expected
