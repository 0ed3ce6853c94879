"""Small builders of planner inputs from plain dicts, through the real pydantic models.

Every helper takes only what a test cares about and fills the rest with the payments example's
shape, so a test reads as "a domain like payments, but with X". Specs go through
``model_validate`` exactly as the operator parses them from a kopf body.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bizdomain.api import BusinessDomainSpec, EnvironmentBindingSpec, MemberClusterSpec
from bizdomain.config import Settings
from bizdomain.plan import BindingRecord, DomainRecord, HostNamespaceRecord, MemberRecord, World

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CREATED = "2024-01-01T00:00:00Z"
SETTINGS = Settings()


def example_docs(kind: str) -> list[dict[str, Any]]:
    """Every document of ``kind`` in examples/*.yaml."""
    docs = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == kind]
    return docs


def domain_spec_dict(**fields: Any) -> dict[str, Any]:
    """A valid BusinessDomain spec (wire form): one owner, departments backend and sre."""
    spec: dict[str, Any] = {
        "displayName": "Payments",
        "owners": [{"kind": "User", "name": "alice@example.com"}],
        "departments": [
            {"name": "backend", "members": [{"kind": "Group", "name": "payments-backend"}]},
            {"name": "sre", "members": [{"kind": "Group", "name": "sre"}]},
        ],
    }
    spec.update(fields)
    return spec


def binding_spec_dict(environment: str = "dev", **fields: Any) -> dict[str, Any]:
    """A valid EnvironmentBinding spec (wire form): backend developer, sre admin."""
    spec: dict[str, Any] = {
        "environment": environment,
        "access": [{"department": "backend", "role": "developer"}, {"department": "sre", "role": "admin"}],
    }
    spec.update(fields)
    return spec


def domain(
    name: str = "payments",
    spec: dict[str, Any] | None = None,
    *,
    created: str = CREATED,
    generation: int = 1,
    deleting: bool = False,
    error: str | None = None,
) -> DomainRecord:
    """A DomainRecord; ``spec`` is the wire dict (default :func:`domain_spec_dict`), None keeps it unparsed."""
    parsed = BusinessDomainSpec.model_validate(domain_spec_dict() if spec is None else spec)
    return DomainRecord(
        name=name,
        uid=f"uid-{name}",
        generation=generation,
        created=created,
        spec=None if error else parsed,
        error=error,
        deleting=deleting,
    )


def binding(
    environment: str = "dev",
    spec: dict[str, Any] | None = None,
    *,
    domain: str = "payments",
    created: str = CREATED,
    generation: int = 1,
    deleting: bool = False,
    error: str | None = None,
) -> BindingRecord:
    """A BindingRecord named after its environment, in ``domain-<domain>``."""
    parsed = EnvironmentBindingSpec.model_validate(binding_spec_dict(environment) if spec is None else spec)
    return BindingRecord(
        namespace=SETTINGS.domain_namespace(domain),
        name=environment,
        uid=f"uid-{domain}-{environment}",
        generation=generation,
        created=created,
        spec=None if error else parsed,
        error=error,
        deleting=deleting,
    )


def member(
    name: str = "dev",
    environments: tuple[str, ...] = ("dev",),
    labels: dict[str, str] | None = None,
    *,
    deleting: bool = False,
) -> MemberRecord:
    spec = MemberClusterSpec.model_validate(
        {"kubeconfigSecretRef": {"name": f"member-{name}"}, "environments": list(environments)}
    )
    return MemberRecord(name=name, spec=spec, labels=dict(labels or {}), deleting=deleting)


def host_namespace(domain: DomainRecord, **fields: Any) -> HostNamespaceRecord:
    """The host namespace the operator made for ``domain`` (trusted), with ``fields`` laid over it."""
    record = HostNamespaceRecord(
        name=SETTINGS.domain_namespace(domain.name),
        uid=f"ns-uid-{domain.name}",
        labels={
            "app.kubernetes.io/managed-by": "bizdomain",
            "bizdomain.io/component": "host",
            "bizdomain.io/domain": domain.name,
            "bizdomain.io/domain-uid": domain.uid,
        },
        created=domain.created,
    )
    return HostNamespaceRecord(**{**record.__dict__, **fields})


def world(
    domains: Sequence[DomainRecord] = (),
    bindings: Sequence[BindingRecord] = (),
    members: Sequence[MemberRecord] = (),
    host_namespaces: Sequence[HostNamespaceRecord] | None = None,
) -> World:
    """A World; by default every domain's host namespace is there and the operator's (trusted)."""
    if host_namespaces is None:
        host_namespaces = [host_namespace(d) for d in domains]
    return World(
        domains={d.name: d for d in domains},
        bindings={b.key: b for b in bindings},
        members={m.name: m for m in members},
        host_namespaces={n.name: n for n in host_namespaces},
    )
