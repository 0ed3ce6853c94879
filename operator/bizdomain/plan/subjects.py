"""Which subjects a tenant may grant rights to: never Kubernetes' or the operator's own identities.

The CRD's CEL rules refuse ``system:`` users and groups and ServiceAccounts of ``kube-*``
namespaces or of ``bizdomain-system`` at admission, and :class:`bizdomain.api.common.Subject`
refuses them again when a spec is parsed. What neither can know is an operator namespace the
platform configured (``BIZDOMAIN_NAMESPACE``): :func:`subject_problems` checks every rule with the
settings in hand. The planner calls it on a binding's deployers and on the departments' members it
grants (plan/validation.py), :mod:`bizdomain.plan.host` on the owners it binds on the host.
"""

from __future__ import annotations

from collections.abc import Iterable

from bizdomain.api.common import Subject, subject_refusal
from bizdomain.config import Settings


def describe(subject: Subject) -> str:
    """A subject as a message names it: ``User alice``, ``ServiceAccount ci/deployer``."""
    where = f"{subject.namespace}/" if subject.namespace else ""
    return f"{subject.kind} {where}{subject.name}"


def subject_problems(subjects: Iterable[Subject], settings: Settings) -> list[str]:
    """One message per subject that may never be granted tenant access (empty: all may)."""
    out: list[str] = []
    for subject in subjects:
        refusal = subject_refusal(subject.kind, subject.name, subject.namespace, settings.namespace)
        if refusal is not None:
            out.append(f"{describe(subject)}: {refusal}")
    return out


def allowed_subjects(subjects: Iterable[Subject], settings: Settings) -> list[Subject]:
    """The subjects that may be granted access, in order (the refused ones left out)."""
    return [s for s in subjects if subject_refusal(s.kind, s.name, s.namespace, settings.namespace) is None]
