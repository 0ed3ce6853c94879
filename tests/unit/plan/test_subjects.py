"""subject_problems: the subjects a tenant may never grant, with the platform's operator namespace."""

from __future__ import annotations

from typing import Literal

import pytest

from bizdomain.api import Subject
from bizdomain.config import Settings
from bizdomain.plan import subject_problems
from bizdomain.plan.subjects import allowed_subjects

FINE = [
    Subject(kind="User", name="alice@example.com"),
    Subject(kind="Group", name="payments-backend"),
    Subject(kind="ServiceAccount", name="deployer", namespace="ci"),
]


def _unchecked(kind: Literal["User", "Group", "ServiceAccount"], name: str, namespace: str | None = None) -> Subject:
    """A subject as stored before a rule existed (the model's own validator would refuse it)."""
    return Subject.model_construct(kind=kind, name=name, namespace=namespace)


def test_fine_subjects_have_no_problem() -> None:
    assert subject_problems(FINE, Settings()) == []
    assert allowed_subjects(FINE, Settings()) == FINE


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (_unchecked("User", "system:admin"), "User system:admin: a User subject may not name a system: identity"),
        (_unchecked("User", "system:anonymous"), "may not name a system: identity"),
        (_unchecked("Group", "system:masters"), "Group system:masters: a Group subject may not name a system: group"),
        (_unchecked("Group", "system:serviceaccounts:ci"), "may not name a system: group"),
        (_unchecked("Group", "system:bootstrappers"), "may not name a system: group"),
        (
            _unchecked("ServiceAccount", "default", "kube-system"),
            "ServiceAccount kube-system/default: a ServiceAccount subject may not be in a kube-* namespace or the "
            "operator's namespace (bizdomain-system)",
        ),
        (_unchecked("ServiceAccount", "x", "kube-public"), "kube-* namespace"),
        (_unchecked("ServiceAccount", "bizdomain", "bizdomain-system"), "operator's namespace (bizdomain-system)"),
    ],
)
def test_refused_subjects_stored_before_the_rule(subject: Subject, message: str) -> None:
    problems = subject_problems([*FINE, subject], Settings())
    assert len(problems) == 1
    assert message in problems[0]
    assert allowed_subjects([*FINE, subject], Settings()) == FINE


def test_a_configured_operator_namespace_is_refused_too() -> None:
    theirs = Subject(kind="ServiceAccount", name="bizdomain", namespace="platform-ops")  # admission lets it by
    settings = Settings(namespace="platform-ops")
    assert subject_problems([theirs], settings) == [
        "ServiceAccount platform-ops/bizdomain: a ServiceAccount subject may not be in a kube-* namespace or the "
        "operator's namespace (platform-ops): those are the cluster's and the operator's own identities"
    ]
    assert subject_problems([theirs], Settings()) == [], "only the platform's operator namespace is special"


def test_every_refused_subject_is_named_once() -> None:
    bad = [_unchecked("Group", "system:nodes"), _unchecked("ServiceAccount", "a", "kube-system")]
    named = [p.split(":")[0] for p in subject_problems(bad, Settings())]
    assert named == ["Group system", "ServiceAccount kube-system/a"]
