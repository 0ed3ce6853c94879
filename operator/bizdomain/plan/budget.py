"""Domain budgets: what a domain allocates per environment x resource, the rule it must keep,
and the fold of what its namespaces use. Pure.

The platform sets a budget per environment on the BusinessDomain; the domain's owners split it
in their EnvironmentBinding (``quota`` for every namespace, ``projectQuotas`` per project). Every
namespace on every selected cluster gets a ResourceQuota, so a domain's *allocation* in an
environment is the sum of those quotas' ``hard``, and the rule is: for every budgeted resource,
every namespace has a value (none would be unbounded) and the sum is at most the budget. The
member API servers' own quota admission then holds every namespace to its share: no race and
nothing on the pod path.

An allocation is made of :class:`Source` objects: today one per EnvironmentBinding, later also
self-service sandboxes (issue 14), judged by the same :func:`judge` in priority order (the
baseline first): a source never squeezes what another one already holds.

Called by :mod:`bizdomain.plan.cluster` (freezes a binding that does not fit), by
:mod:`bizdomain.plan.tenant` (each namespace's quota), by :mod:`bizdomain.status`
(hard / allocated / used / available) and by the sync engine (usage of one pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bizdomain import names
from bizdomain.api.binding import EnvironmentBindingSpec
from bizdomain.api.common import Limits, parse_quantity
from bizdomain.api.domain import BudgetUsage, BusinessDomainSpec
from bizdomain.plan.problems import Problem

Amounts = dict[str, Decimal]
# On a compact view entry of a ResourceQuota: its status (hard and used, as the member computed them).
QUOTA_STATUS = "__quota_status__"
# ... and its spec's hard, when the member's quota controller has not counted it yet (status.hard differs).
QUOTA_SPEC_HARD = "__quota_spec_hard__"
# What the `kubectl get domains` column shows first, when budgeted.
CPU_RESOURCES = ("requests.cpu", "cpu", "limits.cpu")
_ANNOTATION_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LIMIT_FIELDS = (("max", "max"), ("default", "default"), ("default_request", "defaultRequest"), ("min", "min"))
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


@dataclass(frozen=True)
class Share:
    """One namespace's quota on one cluster."""

    cluster: str
    namespace: str
    hard: Mapping[str, str]


@dataclass(frozen=True)
class Source:
    """Something that places namespaces of a domain in an environment: a binding, later a sandbox.

    ``held``: what its namespaces hold on the members now (None: unknown, taken as nothing); a
    source judged after it may not take that room, so growth never squeezes what landed.
    """

    key: str
    shares: tuple[Share, ...]
    held: Amounts | None = None


@dataclass
class Verdict:
    """Per source, the problems that freeze it; per resource, what the landing sources allocate."""

    problems: dict[str, list[Problem]] = field(default_factory=dict)
    allocated: Amounts = field(default_factory=dict)


def amounts(hard: Mapping[str, str] | None) -> Amounts:
    """Quantities as numbers (the API refuses anything that is not one, so none is dropped silently)."""
    return {key: parse_quantity(value) for key, value in (hard or {}).items()}


def namespace_hard(domain: BusinessDomainSpec, binding: EnvironmentBindingSpec, project: str) -> dict[str, str]:
    """One project's ResourceQuota ``hard``: the domain's quota, the binding's, its project's, key by key."""
    return {**(domain.quota or {}), **(binding.quota or {}), **binding.project_quota(project)}


def binding_source(
    domain: str, spec: BusinessDomainSpec, binding: EnvironmentBindingSpec, clusters: Sequence[str]
) -> Source:
    """Every namespace a binding places (each project of its environment on each selected cluster)."""
    shares = tuple(
        Share(cluster, binding.namespace_for(domain, project), namespace_hard(spec, binding, project))
        for project in spec.project_names(domain, binding.environment)
        for cluster in clusters
    )
    return Source(f"{names.KIND_BINDING}/{binding.environment}", shares)


def total(shares: Iterable[Share], resources: Iterable[str]) -> Amounts:
    """The sum of the shares' ``hard`` for each resource (a missing value counts as nothing here)."""
    wanted = list(resources)
    out = dict.fromkeys(wanted, Decimal(0))
    for share in shares:
        for resource in wanted:
            if resource in share.hard:
                out[resource] += parse_quantity(share.hard[resource])
    return out


def judge(environment: str, budget: Mapping[str, str] | None, sources: Sequence[Source]) -> Verdict:
    """The budget rule over ``sources``, in priority order (baseline first).

    A source lands when every one of its namespaces has a value for every budgeted resource and,
    for each resource, its sum plus what the sources before it allocate plus what the sources
    after it hold now is at most the budget. A source that does not land is frozen; it adds
    only what it ``held`` to the allocation (its members keep that, so no later source may take it).
    One that lands adds the larger of its ask and what it held: room it gives back is room only
    once its members hold less (see :func:`bizdomain.plan.kept.holding`).
    """
    verdict = Verdict()
    if budget is None:
        return verdict
    limit = amounts(budget)
    verdict.allocated = dict.fromkeys(limit, Decimal(0))
    holders: dict[str, list[str]] = {resource: [] for resource in limit}  # who the allocation is
    for index, source in enumerate(sources):
        problems = []
        for resource in limit:
            bare = sorted({f"{s.namespace} on {s.cluster}" for s in source.shares if resource not in s.hard})
            if bare:
                problems.append(
                    Problem(
                        names.Reason.BUDGET_EXCEEDED,
                        f"{resource}: namespace {', '.join(bare)} would have no quota for it, so it would be "
                        f"unbounded; the domain's budget in {environment!r} bounds {resource}: give it a value "
                        "in spec.quota or spec.projectQuotas",
                    )
                )
        own = total(source.shares, limit)
        later = [s.held or {} for s in sources[index + 1 :]]
        for resource, ceiling in limit.items():
            others = verdict.allocated[resource] + sum((h.get(resource, Decimal(0)) for h in later), Decimal(0))
            if own[resource] + others > ceiling:
                after = [s.key for s in sources[index + 1 :] if (s.held or {}).get(resource)]
                who = "; ".join(holders[resource] + after)
                beside = f" beside {show(resource, others)} held by {who}" if others else ""
                problems.append(
                    Problem(
                        names.Reason.BUDGET_EXCEEDED,
                        f"{resource}: {len(source.shares)} namespace(s) would allocate {show(resource, own[resource])}"
                        f"{beside}, more than the domain's budget of {show(resource, ceiling)} in {environment!r}; "
                        "nothing new lands until the split fits (what exists is kept as it is)",
                    )
                )
        if problems:
            verdict.problems[source.key] = problems
        # frozen: its members keep what they hold, and nobody may take that room
        # landing: the larger of its ask and what it holds (a lowered quota is room only once it landed)
        held = source.held or {}
        adds = {r: held.get(r, Decimal(0)) if problems else max(own[r], held.get(r, Decimal(0))) for r in limit}
        for resource in limit:
            verdict.allocated[resource] += adds[resource]
            if adds[resource]:
                holders[resource].append(source.key)
    return verdict


def limit_problems(domain: BusinessDomainSpec, binding: EnvironmentBindingSpec) -> list[Problem]:
    """The domain's ``limits.max`` is a ceiling per container: a binding's limits may not lift it."""
    written = (domain.limits.max if domain.limits else None) or {}
    ceiling = amounts(written)
    if not ceiling or binding.limits is None:
        return []
    problems = []
    for field_name, wire in _LIMIT_FIELDS:
        values = getattr(binding.limits, field_name) or {}
        for resource, value in sorted(values.items()):
            if resource in ceiling and parse_quantity(value) > ceiling[resource]:
                problems.append(
                    Problem(
                        names.Reason.LIMITS_EXCEEDED,
                        f"limits.{wire}.{resource} {value} is above the domain's ceiling per container "
                        f"({resource} {written[resource]}, spec.limits.max of the BusinessDomain); "
                        "the limits stay as they are until it fits",
                    )
                )
    return problems


def capped_limits(domain: BusinessDomainSpec, limits: Limits) -> Limits:
    """``limits`` with every value above the domain's ceiling per container brought down to it: what a
    frozen binding's LimitRange is when it must be made again (a valid one is never above it)."""
    written = (domain.limits.max if domain.limits else None) or {}
    ceiling = amounts(written)
    fields: dict[str, dict[str, str] | None] = {}
    for field_name, _ in _LIMIT_FIELDS:
        values = getattr(limits, field_name)
        fields[field_name] = values and {
            r: written[r] if r in ceiling and parse_quantity(v) > ceiling[r] else v for r, v in values.items()
        }
    return Limits(**fields)


def no_room(hard: Mapping[str, str], budget: Mapping[str, str]) -> dict[str, str]:
    """A frozen binding's quota when it must be made again (deleted by hand): nothing of any budgeted
    resource, the only share sure to fit; what runs is untouched, nothing new starts until the split fits."""
    return dict(sorted({**hard, **dict.fromkeys(budget, "0")}.items()))


def fold_used(quota_statuses: Iterable[Mapping[str, Any] | None]) -> tuple[Amounts, Amounts]:
    """(hard, used) summed over ResourceQuota statuses, as the members' quota controllers wrote them."""
    hard: Amounts = {}
    used: Amounts = {}
    for status in quota_statuses:
        for into, key in ((hard, "hard"), (used, "used")):
            for resource, value in ((status or {}).get(key) or {}).items():
                try:
                    into[resource] = into.get(resource, Decimal(0)) + parse_quantity(value)
                except ValueError:
                    continue  # a member wrote something odd: show less, never fail the fold
    return hard, used


def usage(environment: str, budget: Mapping[str, str], allocated: Amounts, used: Amounts) -> BudgetUsage:
    """hard, allocated, used and available (never below 0) of every budgeted resource."""
    limit = amounts(budget)
    return BudgetUsage(
        environment=environment,
        hard={r: show(r, v) for r, v in sorted(limit.items())},
        allocated={r: show(r, allocated.get(r, Decimal(0))) for r in sorted(limit)},
        used={r: show(r, used.get(r, Decimal(0))) for r in sorted(limit)},
        available={r: show(r, max(v - allocated.get(r, Decimal(0)), Decimal(0))) for r, v in sorted(limit.items())},
    )


def over_budget(entry: BudgetUsage) -> list[str]:
    """The resources whose use passed the budget (it was lowered below what runs)."""
    return [r for r, hard in entry.hard.items() if parse_quantity(entry.used.get(r, "0")) > parse_quantity(hard)]


def summary(entries: Sequence[BudgetUsage]) -> str:
    """The ``kubectl get domains`` column: CPU used/budget in the busiest environment."""
    best: tuple[Decimal, str] | None = None
    for entry in entries:
        resource = next((r for r in CPU_RESOURCES if r in entry.hard), next(iter(sorted(entry.hard)), None))
        if resource is None:
            continue
        hard, used = parse_quantity(entry.hard[resource]), parse_quantity(entry.used.get(resource, "0"))
        ratio = used / hard if hard else Decimal(0) if not used else Decimal("Infinity")
        text = f"{entry.environment} {resource} {entry.used.get(resource, '0')}/{entry.hard[resource]}"
        if best is None or ratio > best[0]:
            best = (ratio, text)
    return best[1] if best else ""


def host_annotations(spec: BusinessDomainSpec) -> dict[str, str]:
    """The budgets and the container ceiling, as annotations of the domain's host namespace, where the
    host admission policy reads them. A resource whose annotation name would not be valid (a ``/`` in
    it, too long) is left out: only the operator judges it."""
    out = {}
    pairs = [(f"{names.ANNOTATION_BUDGET_PREFIX}{b.environment}.", b.hard) for b in spec.budgets]
    pairs.append((names.ANNOTATION_DEFAULT_BUDGET_PREFIX, spec.default_budget or {}))
    pairs.append((names.ANNOTATION_LIMITS_MAX_PREFIX, (spec.limits.max if spec.limits else None) or {}))
    for prefix, hard in pairs:
        for resource, value in hard.items():
            key = prefix + resource
            if _ANNOTATION_NAME.match(key.partition("/")[2]):
                out[key] = show(resource, parse_quantity(value))
    return out


def show(resource: str, value: Decimal) -> str:
    """A quantity as a person reads it: binary suffixes for memory and storage, else plain or milli."""
    if value < 0:
        return "-" + show(resource, -value)
    if ("memory" in resource or "storage" in resource) and value == value.to_integral_value():
        for suffix, size in _BINARY:
            if value >= size and value % size == 0:
                return f"{value // size}{suffix}"
    if value == value.to_integral_value():
        return str(int(value))
    millis = value * 1000
    if millis == millis.to_integral_value():
        return f"{int(millis)}m"
    return format(value.normalize(), "f")
