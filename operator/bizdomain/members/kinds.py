"""Where each kind the operator touches lives in the Kubernetes REST API: the kinds table and paths.

One :class:`Kind` per kind (group/version, plural, namespaced), and the collection and item
paths built from it. Pure (no I/O); used by :class:`bizdomain.members.rest.Kube` for every
call, and by :mod:`bizdomain.sync.host` and the benchmark for a path of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from bizdomain import names


@dataclass(frozen=True)
class Kind:
    """Where one kind lives in the REST API."""

    kind: str
    group_version: str
    plural: str
    namespaced: bool

    def _base(self) -> str:
        return f"/api/{self.group_version}" if "/" not in self.group_version else f"/apis/{self.group_version}"

    def collection(self, namespace: str | None = None) -> str:
        if self.namespaced and namespace is not None:
            return f"{self._base()}/namespaces/{quote(namespace)}/{self.plural}"
        return f"{self._base()}/{self.plural}"

    def item(self, name: str, namespace: str | None = None, subresource: str | None = None) -> str:
        path = f"{self.collection(namespace)}/{quote(name, safe='')}"
        return f"{path}/{subresource}" if subresource else path


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("Namespace", "v1", "namespaces", namespaced=False),
        Kind("ResourceQuota", "v1", "resourcequotas", namespaced=True),
        Kind("LimitRange", "v1", "limitranges", namespaced=True),
        Kind("Secret", "v1", "secrets", namespaced=True),
        Kind("Event", "v1", "events", namespaced=True),
        Kind("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", namespaced=True),
        Kind("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
        Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", namespaced=True),
        Kind("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False),
        Kind(names.KIND_WORKSPACE, names.API_VERSION, names.PLURAL_WORKSPACE, namespaced=False),
        Kind(names.KIND_DOMAIN, names.API_VERSION, names.PLURAL_DOMAIN, namespaced=False),
        Kind(names.KIND_BINDING, names.API_VERSION, names.PLURAL_BINDING, namespaced=True),
        Kind(names.KIND_MEMBER, names.API_VERSION, names.PLURAL_MEMBER, namespaced=False),
        Kind(names.KIND_SANDBOX, names.API_VERSION, names.PLURAL_SANDBOX, namespaced=True),
    )
}
