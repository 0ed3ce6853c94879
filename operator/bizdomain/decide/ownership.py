"""Whose an object on a member is, and whether it is protected: the predicates the decide step's
ownership and protection rules (see :mod:`bizdomain.decide`) are built from.

- **A namespace that exists keeps its owner** (:func:`owns`): the domain (by uid, recorded on
  the namespace) and the environment it was created for; a released namespace still names its
  tenant (:func:`holder`), and is taken back only by the same domain uid and environment.
- **Protection comes from where a namespace is and what it was** (:func:`is_protected`): it
  belongs to a protected environment, sits on a member serving one, or ever carried the
  protected label; :func:`protect` keeps that label on it.
- **Prune by the right policy**: without a living tenant, the policy recorded on the namespace
  (:func:`recorded_policy`).

Pure; called by :mod:`bizdomain.decide.decider`; :func:`tenant_of` also by :mod:`bizdomain.preview`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.decide.actions import TenantKey
from bizdomain.plan import ClusterPlan, Desired
from bizdomain.plan.attribution import claimed_tenant
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, build


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj["metadata"].get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj["metadata"].get("annotations") or {}


def tenant_of(obj: Mapping[str, Any]) -> TenantKey | None:
    """The (domain, environment) an object's labels give it, when it is a tenant object of ours."""
    return claimed_tenant(labels_of(obj))


def owns(namespace: Mapping[str, Any], tenant: TenantKey, uids: tuple[str, ...]) -> bool:
    """Whether an existing namespace is ``tenant``'s: its domain (one of ``uids``) and environment.

    A namespace without a recorded uid (made before uids were recorded) is its labels' tenant's
    while the operator still manages it; a released one needs its uid.
    """
    labels = labels_of(namespace)
    if (labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)) != tenant:
        return False
    managed = labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY_VALUE
    released = labels.get(names.LABEL_RELEASED) == "true"
    if not (managed or released):
        return False
    recorded = annotations_of(namespace).get(names.ANNOTATION_DOMAIN_UID)
    return recorded in uids if recorded else managed


def holder(obj: Mapping[str, Any]) -> TenantKey | None:
    """The tenant an object of ours (or a namespace it released) belongs to, by its labels."""
    labels = labels_of(obj)
    if labels.get(names.LABEL_RELEASED) == "true" and obj["kind"] == "Namespace":
        domain, environment = labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)
        return (domain, environment) if domain and environment else None
    return tenant_of(obj)


def is_protected(namespace: Mapping[str, Any], plan: ClusterPlan, settings: Settings) -> bool:
    """Never deleted: it is (or ever was) in a protected environment, or on a member serving one."""
    labels = labels_of(namespace)
    return (
        plan.protected
        or labels.get(names.LABEL_PROTECTED) == "true"
        or settings.is_protected_environment(labels.get(names.LABEL_ENVIRONMENT, ""))
    )


def protect(desired: Desired) -> Desired:
    """The namespace ``desired``, carrying the protected label (which is never taken off)."""
    body = desired.body
    meta = body.pop("metadata")
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != ANNOTATION_SPEC_HASH}
    labels = {**meta["labels"], names.LABEL_PROTECTED: "true"}
    content = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
    return build(desired.kind, desired.name, desired.namespace, labels, content, annotations)


def recorded_policy(namespace: Mapping[str, Any]) -> str:
    """The deletion policy recorded on a namespace when it was made (Retain unless it says Delete)."""
    return "Delete" if annotations_of(namespace).get(names.ANNOTATION_DELETION_POLICY) == "Delete" else "Retain"
