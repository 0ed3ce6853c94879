"""Handing a namespace back, and taking it back (pure): the merge patches the engine sends.

A released namespace stays on the member with its workloads, its quota and its LimitRange; what
changes is that the operator no longer manages it (see README, "Deletion").
"""

from __future__ import annotations

from bizdomain import names
from bizdomain.conditions import now
from bizdomain.members.rest import JSON

# What a released namespace keeps: whose it is (so only its owner takes it back), its Pod Security
# level, and its protection (which is never taken off).
RELEASE_KEEPS = (
    names.LABEL_DOMAIN,
    names.LABEL_ENVIRONMENT,
    names.LABEL_PROJECT,
    names.LABEL_PROTECTED,
    names.LABEL_POD_SECURITY_ENFORCE,
    names.LABEL_POD_SECURITY_WARN,
    names.LABEL_POD_SECURITY_AUDIT,
)


def released_patch(namespace: JSON) -> JSON:
    """The merge patch that hands a namespace back: managed-by and our bookkeeping go, ownership,
    Pod Security and protection stay. A merge patch, not an apply: the namespace was made by a
    plain create, whose fields an apply that leaves them out would not remove."""
    meta = namespace["metadata"]
    labels = {k: None for k in meta.get("labels") or {} if k not in RELEASE_KEEPS}
    ours = [k for k in meta.get("annotations") or {} if k.startswith(f"{names.GROUP}/")]
    annotations: dict[str, str | None] = {k: None for k in ours if k != names.ANNOTATION_DOMAIN_UID}
    return {
        "metadata": {
            "labels": {**labels, names.LABEL_RELEASED: "true"},
            "annotations": {**annotations, names.ANNOTATION_RELEASED_AT: now()},
        }
    }


# Taking a released namespace back: the release marks go once the namespace is applied.
READOPT_PATCH: JSON = {
    "metadata": {"labels": {names.LABEL_RELEASED: None}, "annotations": {names.ANNOTATION_RELEASED_AT: None}}
}
