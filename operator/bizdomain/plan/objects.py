"""The desired-object type and the metadata every managed object carries.

A :class:`Desired` is a full manifest plus the identity the sync layer needs
(kind, namespace, name). Bodies carry a ``spec-hash`` annotation over their own
content, so a spec change is seen even where the live object still holds extra keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bizdomain import names

# An object's identity on a cluster: (kind, namespace or None, name).
Key = tuple[str, str | None, str]
ANNOTATION_SPEC_HASH = f"{names.GROUP}/spec-hash"

# kind -> apiVersion; the sync layer knows each kind's REST path.
API_VERSIONS = {
    "Namespace": "v1",
    "ResourceQuota": "v1",
    "LimitRange": "v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Workspace": names.API_VERSION,
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
}


def key_of(obj: Mapping[str, Any]) -> Key:
    """The key of a live object (or a view entry): the same as its :attr:`Desired.key`."""
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace"), meta["name"])


@dataclass(frozen=True)
class Desired:
    kind: str
    name: str
    namespace: str | None
    raw: bytes  # the manifest as compact JSON: plans hold tens of thousands, kept as bytes, not dicts
    spec_hash: str

    @property
    def key(self) -> Key:
        return (self.kind, self.namespace, self.name)

    @property
    def body(self) -> dict[str, Any]:
        """The manifest, decoded afresh on every call (the caller may change it)."""
        body: dict[str, Any] = json.loads(self.raw)
        return body


def tenant_labels(domain: str, environment: str) -> dict[str, str]:
    """The labels that make an object part of one domain's footprint in one environment."""
    return {
        names.LABEL_MANAGED_BY: names.MANAGED_BY_VALUE,
        names.LABEL_COMPONENT: names.COMPONENT_TENANT,
        names.LABEL_DOMAIN: domain,
        names.LABEL_ENVIRONMENT: environment,
    }


def spec_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def build(  # noqa: PLR0917  (the manifest's parts, in manifest order)
    kind: str,
    name: str,
    namespace: str | None,
    labels: dict[str, str],
    content: dict[str, Any],
    annotations: dict[str, str] | None = None,
) -> Desired:
    """A desired object: metadata plus ``content`` (spec, rules, subjects, ...), hash-stamped."""
    metadata: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        metadata["namespace"] = namespace
    annotations = dict(annotations or {})
    body: dict[str, Any] = {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": metadata, **content}
    digest = spec_hash({**body, "metadata": {**metadata, "annotations": annotations}})
    annotations[ANNOTATION_SPEC_HASH] = digest
    metadata["annotations"] = annotations
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Desired(kind=kind, name=name, namespace=namespace, raw=raw, spec_hash=digest)
