"""The pure pieces of ``bizdomain plan``: loading files, the field diff, the danger rules, the worlds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bizdomain.config import Settings
from bizdomain.preview import danger
from bizdomain.preview.changes import decide_member, result
from bizdomain.preview.diff import FieldChange, diff
from bizdomain.preview.load import LoadError, load
from bizdomain.preview.state import converged
from bizdomain.preview.world import HostObjects, target, world
from unit import factories
from unit.factories import SETTINGS

DOMAIN = """apiVersion: bizdomain.io/v1alpha1
kind: BusinessDomain
metadata: {name: pay}
spec: {displayName: Pay, owners: [{kind: User, name: a@example.com}]}
"""


def test_load_reads_directories_multi_documents_and_lists(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text(DOMAIN + "---\n---\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "sub" / "b.yml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: bizdomain.io/v1alpha1\n  kind: MemberCluster\n"
        "  metadata: {name: dev}\n  spec: {kubeconfigSecretRef: {name: m}, environments: [dev]}\n"
    )
    (tmp_path / "notes.txt").write_text("not read")
    loaded = load([str(tmp_path)])
    assert [o["kind"] for o in loaded.objects] == ["BusinessDomain", "MemberCluster"]
    assert loaded.skipped == {"ConfigMap": 1}
    assert loaded.files == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: BusinessDomain\nmetadata: {name: [", "not valid YAML or JSON"),
        ("apiVersion: bizdomain.io/v1alpha1\nkind: BusinessDomain\nmetadata: {}\n", "has no metadata.name"),
        (DOMAIN.replace("v1alpha1", "v9"), "not bizdomain.io/v1alpha1"),
        (DOMAIN + "---\n" + DOMAIN, "is also in"),
        (
            "apiVersion: bizdomain.io/v1alpha1\nkind: EnvironmentBinding\nmetadata: {name: dev}\n",
            "has no metadata.namespace",
        ),
    ],
)
def test_load_refuses_broken_files_naming_the_file_not_the_content(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n# token: SECRET-VALUE\n")
    with pytest.raises(LoadError, match=message) as info:
        load([str(path)])
    assert str(path) in str(info.value)
    assert "SECRET-VALUE" not in str(info.value)


def test_load_of_a_missing_path_says_so() -> None:
    with pytest.raises(LoadError, match="no such file or directory"):
        load(["/nonexistent/tenancy"])


def test_diff_compares_quantities_by_value_and_skips_the_spec_hash() -> None:
    want = {"kind": "ResourceQuota", "metadata": {"annotations": {"bizdomain.io/spec-hash": "b"}},
            "spec": {"hard": {"memory": "1Gi", "pods": "20"}}}  # fmt: skip
    have = {"kind": "ResourceQuota", "metadata": {"annotations": {"bizdomain.io/spec-hash": "a"}},
            "spec": {"hard": {"memory": "1024Mi", "pods": "10", "cpu": "4"}}}  # fmt: skip
    assert diff(want, have, whole=False) == [
        FieldChange("~", "spec.hard.pods", "10", "20"),
        FieldChange("-", "spec.hard.cpu", before="4"),
    ]


def test_a_live_diff_ignores_what_others_added_but_a_whole_one_does_not() -> None:
    want = {"kind": "NetworkPolicy", "metadata": {"labels": {"bizdomain.io/domain": "pay"}}, "spec": {"a": 1}}
    have = {"kind": "NetworkPolicy", "metadata": {"labels": {"bizdomain.io/domain": "pay", "team": "x"}},
            "spec": {"a": 1, "defaulted": True}}  # fmt: skip
    assert diff(want, have, whole=False) == []
    assert {c.path for c in diff(want, have, whole=True)} == {"metadata.labels.team", "spec.defaulted"}


def test_subjects_are_compared_as_a_set() -> None:
    alice, bob = {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}
    want = {"kind": "RoleBinding", "metadata": {}, "subjects": [alice]}
    have = {"kind": "RoleBinding", "metadata": {}, "subjects": [bob, alice]}
    assert diff(want, have, whole=False) == [FieldChange("-", "subjects", before=bob)]
    assert [c.text() for c in diff(want, have, whole=False)] == ["- subjects: User bob"]


@pytest.mark.parametrize(
    ("held", "wanted", "covered"),
    [("admin", "developer", True), ("developer", "viewer", True), ("developer", "deployer", True),
     ("viewer", "developer", False), ("viewer", "deployer", False), ("deployer", "viewer", False),
     ("my-role", "my-role", True), ("admin", "my-role", False)],
)  # fmt: skip
def test_which_role_covers_which(held: str, wanted: str, covered: bool) -> None:
    assert danger.covers(held, wanted) is covered


def test_grants_flag_admin_anywhere_and_widening_only_in_existing_protected_namespaces() -> None:
    group = ("Group", "g", "")
    assert danger.grant("admin", [group], None, environment="dev", protected=False, namespace="n") == [
        "grants admin to Group g in namespace 'n'"
    ]
    assert danger.grant("developer", [group], None, environment="prod", protected=True, namespace="n") == []
    assert (
        danger.grant("viewer", [group], {group: {"developer"}}, environment="prod", protected=True, namespace="n") == []
    )
    widened = danger.grant("developer", [group], {group: {"viewer"}}, environment="prod", protected=True, namespace="n")
    assert widened == [
        "widens rights in the protected environment 'prod': developer in namespace 'n' for Group g (had viewer)"
    ]


def test_the_target_keeps_the_identity_of_what_the_host_has() -> None:
    host: dict[str, Any] = {"apiVersion": "bizdomain.io/v1alpha1", "kind": "BusinessDomain",
            "metadata": {"name": "pay", "uid": "u-1", "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 3,
                         "annotations": {"bizdomain.io/adopt-uids": "u-0"}},
            "spec": {"displayName": "Pay", "owners": [{"kind": "User", "name": "a@example.com"}]}}  # fmt: skip
    changed = {**host, "metadata": {"name": "pay"}, "spec": {**host["spec"], "displayName": "Pay 2"}}
    new = {**host, "metadata": {"name": "new"}}
    after = world(target(HostObjects.of([host]), [changed, new], prune=False), Settings())
    assert after.domains["pay"].uid == "u-1"
    assert after.domains["pay"].generation == 4
    assert after.domains["pay"].adopts == ("u-0",)
    assert after.domains["new"].uid == "<uid:new>"
    assert after.domains["new"].created > after.domains["pay"].created  # claims after every existing one
    pruned = world(target(HostObjects.of([host]), [new], prune=True), Settings()).domains
    assert set(pruned) == {"new", "pay"}
    assert pruned["pay"].deleting  # held by the operator's finalizer, marked, until the members are cleaned
    assert not pruned["new"].deleting


def test_changing_what_was_made_for_an_adopted_uid_is_a_danger() -> None:
    # One annotation on a BusinessDomain (bizdomain.io/adopt-uids) hands it every namespace made for
    # that uid: a reviewer must see each change it brings there, not only a quota moving.
    member = factories.member("dev")
    before = factories.domain("payments", factories.domain_spec_dict(quota={"pods": "10"}))
    base = factories.world([before], [factories.binding()], [member])
    state = converged(member, base, SETTINGS)  # its namespaces record the uid of the domain as it was
    again = factories.domain("payments", factories.domain_spec_dict(quota={"pods": "20"}))
    for domain, adopting in ((again, False), (dataclasses.replace(again, uid="uid-new", adopts=(before.uid,)), True)):
        after = factories.world([domain], [factories.binding()], [member])
        changes = result(member, decide_member(member, after, state, SETTINGS), state, SETTINGS).changes
        quota = next(c for c in changes if c.kind == "ResourceQuota")
        assert quota.action == "update"
        warned = [d for d in quota.dangers if "adopt" in d]
        assert bool(warned) is adopting, quota.dangers
    assert warned == [
        "changes ResourceQuota payments/bizdomain-quota, made for another BusinessDomain (uid uid-payments): "
        "'payments' takes it over by adopting that uid (bizdomain.io/adopt-uids)"
    ]
