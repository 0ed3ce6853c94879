"""What the planner reads: host objects, already parsed, as plain frozen records.

The handlers build these from kopf bodies (see :mod:`bizdomain.records`); the planner
never sees a raw dict. A record whose spec failed to parse keeps the error instead,
so the planner can freeze that tenant rather than act on half an object.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bizdomain.api.binding import EnvironmentBindingSpec
from bizdomain.api.domain import BusinessDomainSpec
from bizdomain.api.member import MemberClusterSpec
from bizdomain.api.sandbox import SandboxSpec

if TYPE_CHECKING:
    from bizdomain.plan.kept import Kept


@dataclass(frozen=True)
class DomainRecord:
    name: str
    uid: str
    generation: int
    created: str
    spec: BusinessDomainSpec | None
    error: str | None = None
    deleting: bool = False
    status: dict[str, Any] = field(default_factory=dict)
    # Earlier uids of this domain whose member objects it may take back: a platform action
    # (the ``bizdomain.io/adopt-uids`` annotation), never a tenant's.
    adopts: tuple[str, ...] = ()

    def owns_uid(self, uid: str | None) -> bool:
        """Whether objects recorded for domain uid ``uid`` are this domain's."""
        return bool(uid) and (uid == self.uid or uid in self.adopts)


@dataclass(frozen=True)
class BindingRecord:
    namespace: str
    name: str
    uid: str
    generation: int
    created: str
    spec: EnvironmentBindingSpec | None
    error: str | None = None
    deleting: bool = False
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class MemberRecord:
    name: str
    spec: MemberClusterSpec | None
    labels: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    deleting: bool = False
    generation: int = 0
    status: dict[str, Any] = field(default_factory=dict)
    uid: str = ""


@dataclass(frozen=True)
class HostNamespaceRecord:
    """A namespace on the host that may be a domain's (``domain-<name>``): who made it, for whom."""

    name: str
    uid: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: str = ""
    deleting: bool = False


@dataclass(frozen=True)
class SandboxRecord:
    """A Sandbox on the host (in ``domain-<name>``): see :mod:`bizdomain.plan.sandbox`."""

    namespace: str
    name: str
    uid: str
    generation: int
    created: str
    spec: SandboxSpec | None
    error: str | None = None
    deleting: bool = False
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class World:
    """Everything the operator knows about the host, at one instant."""

    domains: dict[str, DomainRecord] = field(default_factory=dict)
    bindings: dict[tuple[str, str], BindingRecord] = field(default_factory=dict)
    members: dict[str, MemberRecord] = field(default_factory=dict)
    # Host namespaces named like a domain's (see plan.host.host_namespace_state): trust is positive,
    # a domain whose namespace is not here, or not the operator's for its uid, is not acted on.
    host_namespaces: dict[str, HostNamespaceRecord] = field(default_factory=dict)
    sandboxes: dict[tuple[str, str], SandboxRecord] = field(default_factory=dict)
    # (domain, environment) -> the namespaces of the domain holding our quota on the members, as
    # the members' last passes saw them (see plan.kept): what a budget counts beyond the plan.
    kept: Mapping[tuple[str, str], tuple[Kept, ...]] = field(default_factory=dict)

    @functools.cached_property
    def sandboxes_by_namespace(self) -> dict[str, list[SandboxRecord]]:
        """The sandboxes in each domain's host namespace, oldest first (built once per World)."""
        out: dict[str, list[SandboxRecord]] = {}
        for sandbox in sorted(self.sandboxes.values(), key=lambda s: (s.created, s.name)):
            out.setdefault(sandbox.namespace, []).append(sandbox)
        return out
