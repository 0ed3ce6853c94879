"""What one sync pass did on one cluster, per tenant: the engine fills it, status reads it.

Pure data (no client): :mod:`bizdomain.sync.engine` fills a :class:`ClusterReport` per pass, the
runtime keeps the last one per member, and :mod:`bizdomain.status` and :mod:`bizdomain.reporting`
read it. Below ``sync`` so that status never depends on the I/O layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bizdomain import names
from bizdomain.plan import Problem
from bizdomain.plan.kept import Kept

TenantKey = tuple[str, str]


@dataclass
class TenantOutcome:
    """What one pass did for one (domain, environment) on one cluster."""

    domain: str
    environment: str
    ok: bool = True
    problems: list[Problem] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    generations: tuple[int, int] = (0, 0)
    frozen: bool = False
    # Summed over its namespaces' ResourceQuotas here, as the member's quota controller wrote them.
    quota_hard: dict[str, Decimal] = field(default_factory=dict)
    quota_used: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class ClusterReport:
    """The result of one sync pass over one cluster."""

    cluster: str
    ok: bool
    reason: str = names.Reason.RECONCILED
    message: str = ""
    tenants: dict[TenantKey, TenantOutcome] = field(default_factory=dict)
    leftovers: set[TenantKey] = field(default_factory=set)
    writes: int = 0
    skipped: set[str] = field(default_factory=set)  # domains left alone: they changed during the pass
    # Per (domain, environment), the namespaces holding our quota there, managed or released (see
    # plan.kept); None: the pass did not read the member (the last known ones stand).
    kept: dict[TenantKey, tuple[Kept, ...]] | None = None

    @property
    def reachable(self) -> bool:
        """Whether the member answered with valid credentials (it may still have failed otherwise)."""
        return self.reason not in names.UNREACHABLE_REASONS

    def tenant(self, key: TenantKey) -> TenantOutcome:
        if key not in self.tenants:
            self.tenants[key] = TenantOutcome(*key)
        return self.tenants[key]


def failure_reason(status: int | None, unreachable: bool) -> str:
    """The reason a member's failed request gives a pass: unreachable, refused credentials, or failed."""
    if status == 401:
        return names.Reason.CREDENTIALS_INVALID
    return names.Reason.CLUSTER_UNREACHABLE if unreachable else names.Reason.SYNC_FAILED
