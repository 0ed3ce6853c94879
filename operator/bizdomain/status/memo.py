"""Statuses computed again only when what they are computed from changed (pure).

A status round looks at every EnvironmentBinding and BusinessDomain, thousands of them, and
most rounds find a handful changed. :class:`StatusMemo` keeps each one's last status (and its
wire form) with what it was computed from, and computes it again only when one of those moved:

- a binding's: its record and its domain's (frozen, replaced on every change: compared by
  identity), its placement, and what :func:`bizdomain.status.binding_status` reads of the last
  pass of each member it selects (of every member, when its domain has a budget there: the
  budget is summed over them all): reachable or why not, the tenant's outcome, its quotas;
- a domain's: its record, its bindings' records and statuses (the memo's own objects, so
  identity again), and the host-namespace conflict.

A status computed again from the same record, with nothing else moved, would date a flip against
the object's previous status at a later second, and be written twice for one change: taken from
the memo, it is written once. Its settings are the writer's, which never change.
Owned by :class:`bizdomain.reporting.StatusWriter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bizdomain.api.binding import EnvironmentBindingStatus
from bizdomain.api.domain import BusinessDomainStatus
from bizdomain.config import Settings
from bizdomain.plan import BindingRecord, DomainRecord, Placement, Selection, World, binding_domain
from bizdomain.report import ClusterReport, TenantKey
from bizdomain.status import binding_status, domain_status

Wire = dict[str, Any]
Bound = list[tuple[BindingRecord, EnvironmentBindingStatus]]


def member_print(report: ClusterReport, key: TenantKey | None) -> tuple[Any, ...]:
    """What a binding's status reads of one member's last pass, by value (passes build new outcomes)."""
    if key is None:
        return (report.ok,)
    tenant = report.tenants.get(key)
    outcome = None
    if tenant is not None:
        outcome = (
            tuple(tenant.problems),
            tuple(tenant.namespaces),
            tuple(tenant.errors),
            tenant.generations,
            tuple(tenant.quota_hard.items()),
            tuple(tenant.quota_used.items()),
        )
    return report.ok, report.reason, report.message, outcome, (report.kept or {}).get(key)


@dataclass
class _Binding:
    record: BindingRecord
    domain: DomainRecord | None
    selection: Selection
    members: tuple[tuple[str, tuple[Any, ...]], ...]
    status: EnvironmentBindingStatus
    wire: Wire


@dataclass
class _Domain:
    record: DomainRecord
    bindings: Bound
    conflict: str | None
    status: BusinessDomainStatus
    wire: Wire


class StatusMemo:
    """The last status of every binding and domain, and what it was computed from."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._bindings: dict[tuple[str, str], _Binding] = {}
        self._domains: dict[str, _Domain] = {}
        self.computed = 0  # statuses computed (not taken from the memo), for tests and the benchmark

    def binding(
        self, binding: BindingRecord, world: World, reports: Mapping[str, ClusterReport], placement: Placement
    ) -> tuple[EnvironmentBindingStatus, Wire]:
        domain = binding_domain(binding, world, self.settings)
        selection = placement.of(binding)
        key = (domain.name, binding.spec.environment) if domain is not None and binding.spec is not None else None
        budgeted = key is not None and domain is not None and domain.spec is not None and domain.spec.budget(key[1])
        # A budget sums over every member (in the order given: Decimal sums are exact only that far);
        # without one, only the selected members' passes are read.
        read = reports.items() if budgeted else [(c, reports[c]) for c in selection.clusters if c in reports]
        members = tuple((name, member_print(report, key)) for name, report in read)
        entry = self._bindings.get(binding.key)
        if (
            entry is None
            or entry.record is not binding
            or entry.domain is not domain
            or entry.selection != selection
            or entry.members != members
        ):
            status = binding_status(binding, world, reports, self.settings, placement)
            entry = _Binding(binding, domain, selection, members, status, status.to_wire())
            self._bindings[binding.key] = entry
            self.computed += 1
        return entry.status, entry.wire

    def domain(self, domain: DomainRecord, bindings: Bound, conflict: str | None) -> tuple[BusinessDomainStatus, Wire]:
        entry = self._domains.get(domain.name)
        if (
            entry is None
            or entry.record is not domain
            or entry.conflict != conflict
            or len(entry.bindings) != len(bindings)
            or any(a is not c or b is not d for (a, b), (c, d) in zip(entry.bindings, bindings, strict=True))
        ):
            status = domain_status(domain, bindings, self.settings, host_conflict=conflict)
            entry = _Domain(domain, list(bindings), conflict, status, status.to_wire())
            self._domains[domain.name] = entry
            self.computed += 1
        return entry.status, entry.wire

    def keep_only(self, world: World) -> None:
        """Forget the bindings and domains ``world`` no longer has."""
        self._bindings = {k: v for k, v in self._bindings.items() if k in world.bindings}
        self._domains = {k: v for k, v in self._domains.items() if k in world.domains}
