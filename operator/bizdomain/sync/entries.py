"""The compact entry :class:`bizdomain.sync.view.MemberView` keeps per member object (pure).

An entry is the object's identity, labels, our own annotations and resourceVersion, plus the
verdict taken when the object arrived: "holds the desired object with spec-hash H" (``IN_SYNC``),
who a RoleBinding grants to, and what a ResourceQuota holds and uses. Label sets and subject
lists repeat across thousands of objects; an :class:`Interner` keeps each one once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bizdomain import names
from bizdomain.decide import IN_SYNC, SUBJECTS, subject_keys
from bizdomain.members.rest import JSON
from bizdomain.plan import Desired, needs_apply
from bizdomain.plan.budget import QUOTA_SPEC_HARD, QUOTA_STATUS
from bizdomain.plan.objects import Key

OUR_ANNOTATIONS = f"{names.GROUP}/"
_KEEP = ("name", "namespace", "uid", "labels", "annotations", "deletionTimestamp", "resourceVersion")
Subjects = tuple[tuple[str, str, str], ...]


@dataclass
class Interner:
    """One copy of each label set and subject list the entries of a member share."""

    labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = field(default_factory=dict)
    subjects: dict[Subjects, Subjects] = field(default_factory=dict)


def version(obj: JSON) -> int | None:
    raw = obj.get("metadata", {}).get("resourceVersion")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def newer(new: JSON, old: JSON | None) -> bool:
    """Whether ``new`` is a later state than ``old`` (the echo of an apply's answer is not)."""
    if old is None:
        return True
    a, b = version(new), version(old)
    return a is None or b is None or a > b


def compact(key: Key, obj: JSON, desired: Desired | None, shared: Interner) -> JSON:
    """Identity, labels, annotations and the verdict against ``desired``; Workspaces whole (their
    desired body is settled only after the namespace claims, and their status is read back)."""
    meta = obj["metadata"]
    if key[0] == "Workspace":
        meta.pop("managedFields", None)  # often half of an object, never read
        return obj
    verdict = desired.spec_hash if desired is not None and not needs_apply(desired.body, obj) else None
    kept = {k: meta[k] for k in _KEEP if k in meta}
    if "labels" in kept:  # the objects of one namespace share one label set: keep it once
        labels = kept["labels"]
        kept["labels"] = shared.labels.setdefault(tuple(labels.items()), labels)
    if "annotations" in kept:  # only ours are ever read (others can be large)
        kept["annotations"] = {k: v for k, v in kept["annotations"].items() if k.startswith(OUR_ANNOTATIONS)}
    entry: JSON = {"kind": key[0], "metadata": kept, IN_SYNC: verdict}
    if key[0] == "RoleBinding":  # who a binding grants to: a frozen tenant may only narrow it
        subjects = subject_keys(obj.get("subjects"))
        entry[SUBJECTS] = shared.subjects.setdefault(subjects, subjects)
    if key[0] == "ResourceQuota":  # hard and used, for the domain's budget (no request of its own)
        entry[QUOTA_STATUS] = obj.get("status") or {}
        hard = (obj.get("spec") or {}).get("hard") or {}
        if hard != entry[QUOTA_STATUS].get("hard"):  # not counted by the member's controller yet
            entry[QUOTA_SPEC_HARD] = hard
    return entry
