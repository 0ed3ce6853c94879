"""build(): manifests stamped with a spec-hash over their own content."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, API_VERSIONS, build, tenant_labels

LABELS = tenant_labels("payments", "dev")

json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text("ab1:.-", max_size=4)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
contents = st.dictionaries(st.sampled_from(["spec", "rules", "subjects", "roleRef"]), json_values, max_size=3)


def spec_hash(content: dict[str, Any], **kwargs: Any) -> str:
    desired = build("ResourceQuota", "q", "payments", kwargs.pop("labels", LABELS), content, **kwargs)
    return str(desired.body["metadata"]["annotations"][ANNOTATION_SPEC_HASH])


def test_build_makes_a_full_manifest() -> None:
    desired = build("RoleBinding", "rb", "payments", LABELS, {"subjects": []}, {"note": "x"})
    assert desired.key == ("RoleBinding", "payments", "rb")
    assert desired.body["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert desired.body["kind"] == "RoleBinding"
    assert desired.body["subjects"] == []
    meta = desired.body["metadata"]
    assert meta["name"] == "rb"
    assert meta["namespace"] == "payments"
    assert meta["labels"] == LABELS
    assert meta["labels"] is not LABELS, "the caller's dict is copied"
    assert meta["annotations"]["note"] == "x"
    assert len(meta["annotations"][ANNOTATION_SPEC_HASH]) == 16


def test_cluster_scoped_objects_have_no_namespace() -> None:
    assert "namespace" not in build("Namespace", "payments", None, LABELS, {}).body["metadata"]


@pytest.mark.parametrize("kind", sorted(API_VERSIONS))
def test_every_kind_has_an_api_version(kind: str) -> None:
    assert build(kind, "x", None, {}, {}).body["apiVersion"] == API_VERSIONS[kind]


@pytest.mark.parametrize(
    ("change", "kwargs"),
    [
        pytest.param({"spec": {"hard": {"cpu": "3"}}}, {}, id="content"),
        pytest.param({"spec": {"hard": {"cpu": "2", "pods": "1"}}}, {}, id="added-key"),
        pytest.param({"spec": {"hard": {}}}, {}, id="removed-key"),
        pytest.param({"spec": {"hard": {"cpu": "2"}}}, {"labels": {**LABELS, "x": "y"}}, id="labels"),
        pytest.param({"spec": {"hard": {"cpu": "2"}}}, {"annotations": {"a": "b"}}, id="annotations"),
    ],
)
def test_spec_hash_changes_with_content(change: dict[str, Any], kwargs: dict[str, Any]) -> None:
    assert spec_hash({"spec": {"hard": {"cpu": "2"}}}) != spec_hash(change, **kwargs)


@settings(max_examples=200, deadline=None)
@given(content=contents)
def test_property_spec_hash_is_stable_for_equal_bodies(content: dict[str, Any]) -> None:
    twin = copy.deepcopy(content)
    reordered = dict(reversed(list(twin.items())))
    assert spec_hash(content) == spec_hash(twin) == spec_hash(reordered)


@settings(max_examples=200, deadline=None)
@given(a=contents, b=contents)
def test_property_spec_hash_changes_when_content_changes(a: dict[str, Any], b: dict[str, Any]) -> None:
    # Equal as JSON, not as Python values: Python says True == 1, the API (and the hash) does not.
    same_json = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert (spec_hash(a) == spec_hash(b)) is same_json
