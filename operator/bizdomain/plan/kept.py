"""What a domain's namespaces hold on the members outside the plan: the quotas a budget must count. Pure.

A namespace the operator releases (a project removed, a template or selection changed, a binding
deleted, under ``Retain`` or in a protected environment) keeps its ResourceQuota and LimitRange,
so that its workloads stay bounded (see :mod:`bizdomain.decide`). They still run, so what that
quota allows is still the domain's: were it not counted, an owner could rename its namespaces
again and again and hold the budget many times over. Each member pass reports, per domain x
environment, every namespace of the domain that holds one of our quotas there (:func:`kept_quotas`,
from the member's view: no request of its own); the runtime adds them up in
:attr:`bizdomain.plan.World.kept`, and :func:`released_source` makes of those the plan no longer
places a budget source that nothing may squeeze (:mod:`bizdomain.plan.budget`). A platform admin
frees that room by deleting the released namespace (or the domain takes it back by placing it again).

Called by the sync engine (:func:`kept_quotas`), by :mod:`bizdomain.plan.cluster` (the rule) and
by :mod:`bizdomain.status` (allocated and used).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bizdomain import names
from bizdomain.api.common import parse_quantity
from bizdomain.api.sandbox import SEPARATOR
from bizdomain.config import Settings
from bizdomain.plan.budget import Amounts, Share, Source, total

TenantKey = tuple[str, str]
# How many namespaces a refusal names before it says "and N more".
SHOWN = 5


@dataclass(frozen=True)
class Kept:
    """One namespace of a domain holding one of our ResourceQuotas on one member."""

    cluster: str
    namespace: str
    hard: Mapping[str, str]  # as the member's quota controller enforces it (status.hard)
    used: Mapping[str, str]
    released: bool  # already released: no longer managed, still bounded by this quota
    protected: bool  # never deleted: released when the plan no longer places it
    recorded: str = "Retain"  # the deletion policy recorded on it: what prunes it when no binding selects its member

    def retained(self, policy: str | Mapping[str, str]) -> bool:
        """Whether its quota stays on the member once the plan does not place it: under ``policy``, or
        per member (the policy of the bindings that select it; elsewhere the one recorded on it)."""
        if not isinstance(policy, str):
            policy = policy.get(self.cluster, self.recorded)
        return self.released or self.protected or policy != "Delete"


def kept_quotas(
    cluster: str,
    namespaces: Mapping[str, Mapping[str, Any]],
    quotas: Mapping[str, Mapping[str, Any]],
    *,
    owners: Mapping[str, Sequence[str]],
    budgeted: frozenset[str],
    protected_member: bool,
    settings: Settings,
) -> dict[TenantKey, tuple[Kept, ...]]:
    """Per (domain, environment) of the ``budgeted`` domains, every namespace on ``cluster`` made for
    one of the domain's uids (``owners``), managed or released, that holds our quota (``quotas``:
    namespace -> that quota's status). A sandbox's
    namespaces count for the environment it is based on; a terminating namespace, whose quota goes
    with it, does not count."""
    out: dict[TenantKey, list[Kept]] = {}
    if not budgeted:
        return {}
    for name, namespace in namespaces.items():
        meta = namespace.get("metadata") or {}
        labels = meta.get("labels") or {}
        domain, environment = labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)
        if domain not in budgeted:
            continue
        released = labels.get(names.LABEL_RELEASED) == "true"
        managed = labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY_VALUE
        if not domain or not environment or not (released or managed) or meta.get("deletionTimestamp"):
            continue
        uid = (meta.get("annotations") or {}).get(names.ANNOTATION_DOMAIN_UID)
        if (uid is None and not managed) or (uid is not None and uid not in owners.get(domain, ())):
            continue  # another incarnation's (or nobody's): not this domain's to count
        status = quotas.get(name) or {}
        if not status.get("hard"):
            continue
        base = environment.partition(SEPARATOR)[0]
        protected = (
            protected_member or labels.get(names.LABEL_PROTECTED) == "true" or settings.is_protected_environment(base)
        )
        policy = (meta.get("annotations") or {}).get(names.ANNOTATION_DELETION_POLICY)
        recorded = "Delete" if policy == "Delete" else "Retain"
        kept = Kept(cluster, name, dict(status["hard"]), dict(status.get("used") or {}), released, protected, recorded)
        out.setdefault((domain, base), []).append(kept)
    return {key: tuple(sorted(value, key=lambda k: k.namespace)) for key, value in out.items()}


def merge_kept(
    reports: Iterable[Mapping[TenantKey, tuple[Kept, ...]] | None],
) -> dict[TenantKey, tuple[Kept, ...]]:
    """Every member's kept quotas together, per (domain, environment)."""
    out: dict[TenantKey, tuple[Kept, ...]] = {}
    for kept in reports:
        for key, entries in (kept or {}).items():
            out[key] = out.get(key, ()) + entries
    return out


def released_source(kept: Iterable[Kept], placed: Iterable[Share], policy: str | Mapping[str, str]) -> Source | None:
    """What the domain's namespaces that ``placed`` (the plan's shares) no longer has keep on the
    members: those already released, and those the pass will release rather than delete (by
    ``policy``, see :meth:`Kept.retained`). None when there are none. It is judged as held
    (:func:`bizdomain.plan.budget.judge`): never squeezed."""
    planned = {(share.cluster, share.namespace) for share in placed}
    outside = [k for k in kept if (k.cluster, k.namespace) not in planned and k.retained(policy)]
    if not outside:
        return None
    shares = tuple(Share(k.cluster, k.namespace, k.hard) for k in outside)
    return Source(describe(outside), shares, total(shares, {r for s in shares for r in s.hard}))


def describe(kept: Sequence[Kept]) -> str:
    """``the quotas released namespaces keep (a on dev, b on dev)`` (at most :data:`SHOWN` named)."""
    shown = ", ".join(f"{k.namespace} on {k.cluster}" for k in kept[:SHOWN])
    more = f" and {len(kept) - SHOWN} more" if len(kept) > SHOWN else ""
    return f"the quotas released namespaces keep ({shown}{more})"


def going(kept: Iterable[Kept], placed: Iterable[Share], policy: str | Mapping[str, str]) -> tuple[Share, ...]:
    """The namespaces outside the plan that the pass deletes with their quota: until they are gone
    (and never, while the baseline is frozen) they still hold it, so the baseline holds it for them."""
    planned = {(share.cluster, share.namespace) for share in placed}
    return tuple(
        Share(k.cluster, k.namespace, k.hard)
        for k in kept
        if (k.cluster, k.namespace) not in planned and not k.retained(policy)
    )


def holding(
    shares: Iterable[Share], kept: Iterable[Kept], resources: Iterable[str], *, asked: bool = True, now: bool = False
) -> Amounts:
    """What ``shares`` hold, counted high: per namespace and resource the larger of what it asks (when
    ``asked``: it landed, or may land in this pass) and what its member's quota holds now. A source
    that does not land keeps what its members hold, whatever its spec now asks: were it counted at
    its ask, lowering the ask while freezing the change would hand that room to another source.
    With ``now`` (a sandbox, judged after the baseline), a namespace its member reports holds what its
    quota holds, not its ask: a sandbox asking for more than fits freezes itself, never the baseline."""
    live = {(k.cluster, k.namespace): k.hard for k in kept}
    out = dict.fromkeys(resources, Decimal(0))
    for share in shares:
        held = live.get((share.cluster, share.namespace))
        ask = share.hard if asked and not (now and held is not None) else {}
        for resource in out:
            values = [v for v in (ask.get(resource), (held or {}).get(resource)) if v is not None]
            out[resource] += max((parse_quantity(v) for v in values), default=Decimal(0))
    return out
