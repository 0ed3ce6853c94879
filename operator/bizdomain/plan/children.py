"""A tenant namespace and the objects in it (a :class:`~bizdomain.plan.tenant.TenantPlan`'s children). Pure.

Every namespace of one tenant holds the same kinds, built here once for baselines
(:mod:`bizdomain.plan.tenant`) and sandboxes (:mod:`bizdomain.plan.sandbox`) alike: the Namespace
(its labels: the tenant's, its project, its Pod Security level, protection), one RoleBinding per
grant, its ResourceQuota, the LimitRange, and the NetworkPolicy when the domain is isolated.
:func:`role_binding` is also how :mod:`bizdomain.decide` builds a narrowed RoleBinding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bizdomain import names
from bizdomain.api.common import Limits
from bizdomain.config import Settings
from bizdomain.plan.inputs import DomainRecord
from bizdomain.plan.objects import Desired, build, tenant_labels


@dataclass(frozen=True)
class Footprint:
    """What every namespace of one tenant holds alike."""

    domain: str
    environment: str
    annotations: dict[str, str]  # of each Namespace: deletion policy, display name, domain uid
    grants: dict[str, tuple[str, list[dict[str, str]]]]  # RoleBinding name -> (ClusterRole, subjects)
    limit_range: dict[str, Any] | None
    isolated: bool  # a NetworkPolicy admits only the tenant's own namespaces


def namespace_objects(
    tenant: Footprint, namespace: str, labels: dict[str, str], quota: Mapping[str, str] | None
) -> list[Desired]:
    """The Namespace ``namespace`` (with ``labels``) and what it holds, in order: its RoleBindings,
    its ResourceQuota (``quota``; None: none), LimitRange and NetworkPolicy."""
    own = tenant_labels(tenant.domain, tenant.environment)
    out = [build("Namespace", namespace, None, labels, {}, tenant.annotations)]
    out.extend(role_binding(name, namespace, own, *grant) for name, grant in tenant.grants.items())
    if quota is not None:
        out.append(
            build("ResourceQuota", names.QUOTA_NAME, namespace, own, {"spec": {"hard": dict(sorted(quota.items()))}})
        )
    if tenant.limit_range:
        out.append(build("LimitRange", names.LIMITS_NAME, namespace, own, tenant.limit_range))
    if tenant.isolated:
        out.append(_isolation(namespace, own, tenant.domain, tenant.environment))
    return out


def limit_range(limits: Limits) -> dict[str, Any] | None:
    item: dict[str, Any] = {"type": "Container"}
    for attr, key in (
        ("default", "default"),
        ("default_request", "defaultRequest"),
        ("max", "max"),
        ("min", "min"),
    ):
        value = getattr(limits, attr)
        if value:
            item[key] = dict(sorted(value.items()))
    return {"spec": {"limits": [item]}} if len(item) > 1 else None


def namespace_labels(domain: DomainRecord, environment: str, project: str, settings: Settings) -> dict[str, str]:
    """A tenant namespace's labels: the tenant's, its project, its Pod Security level, protection."""
    level = settings.pod_security_level(environment)
    labels = {
        **tenant_labels(domain.name, environment),
        names.LABEL_PROJECT: project,
        names.LABEL_POD_SECURITY_ENFORCE: level,
        names.LABEL_POD_SECURITY_WARN: level,
        names.LABEL_POD_SECURITY_AUDIT: level,
    }
    if settings.is_protected_environment(environment):
        labels[names.LABEL_PROTECTED] = "true"
    return labels


def role_binding(
    name: str, namespace: str, labels: dict[str, str], cluster_role: str, subjects: list[dict[str, str]]
) -> Desired:
    # roleRef is immutable: the role is part of the name, so a changed role is a new binding
    # and the old one is pruned.
    content = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": subjects,
    }
    return build("RoleBinding", name, namespace, labels, content)


def _isolation(namespace: str, labels: dict[str, str], domain: str, environment: str) -> Desired:
    peers = {"namespaceSelector": {"matchLabels": {names.LABEL_DOMAIN: domain, names.LABEL_ENVIRONMENT: environment}}}
    content = {"spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [peers]}]}}
    return build("NetworkPolicy", names.NETWORK_POLICY_NAME, namespace, labels, content)
