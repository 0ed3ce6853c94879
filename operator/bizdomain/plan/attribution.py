"""Whose is a member object? Its namespace says so, not the object's own labels.

Member users with ``admin`` or ``developer`` rights in a tenant namespace can create and relabel
RoleBindings and NetworkPolicies there, so an object's ``bizdomain.io/domain`` and
``bizdomain.io/environment`` labels are only a claim. Namespaces' labels are written by the
operator alone (tenants cannot change namespaces). Everything the operator puts inside a
namespace carries the same (domain, environment) as the namespace, so an object whose labels
name another tenant than its namespace was not made by the operator: it is nobody's to prune or
report on, and above all not the tenant it names (whose binding would otherwise get Events about
someone else's namespace, and whose deletion it could hold up).

:func:`namespaced_tenant_ok` is what :class:`bizdomain.sync.view.MemberView` asks before handing
an object to a pass as managed; :func:`drift_domain` which domain a hand edit concerns.
"""

from __future__ import annotations

from collections.abc import Mapping

from bizdomain import names

TenantKey = tuple[str, str]


def claimed_tenant(labels: Mapping[str, str]) -> TenantKey | None:
    """The (domain, environment) an object's labels claim, if it is a tenant object of ours."""
    if labels.get(names.LABEL_MANAGED_BY) != names.MANAGED_BY_VALUE:
        return None
    if labels.get(names.LABEL_COMPONENT) != names.COMPONENT_TENANT:
        return None
    domain, environment = labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)
    return (domain, environment) if domain and environment else None


def namespaced_tenant_ok(labels: Mapping[str, str], namespace_labels: Mapping[str, str] | None) -> bool:
    """Whether a tenant object inside a namespace really is the tenant it claims: its namespace
    (managed or released) names the same domain and environment. Objects that claim no tenant
    (platform, identity) pass; a tenant object whose namespace is unknown does not."""
    claim = claimed_tenant(labels)
    if claim is None:
        return True
    if namespace_labels is None:
        return False
    return (namespace_labels.get(names.LABEL_DOMAIN), namespace_labels.get(names.LABEL_ENVIRONMENT)) == claim


def drift_domain(labels: Mapping[str, str], namespace_labels: Mapping[str, str] | None) -> str | None:
    """The domain to re-sync after a hand edit: the namespace's (an object may have been relabelled)."""
    if namespace_labels is not None and namespace_labels.get(names.LABEL_DOMAIN):
        return namespace_labels.get(names.LABEL_DOMAIN)
    return labels.get(names.LABEL_DOMAIN)
