"""The operator's own footprint on the host: each domain's namespace, binding quota and owner RoleBinding.

Called by the runtime's host loop with the plan of :func:`bizdomain.plan.host.desired_host`.
Same rules as on members: apply only what differs, prune only what carries our host labels, and
only when every list succeeded. Two more, because a host namespace decides who may write a
domain's bindings: a missing namespace is made with a plain create (an "already exists" is a
conflict, never adopted), and nothing is applied or pruned inside a namespace the plan does not
trust (one someone else made, or one we just failed to create). A domain's host namespace is
removed only once the domain itself is gone (its deletion handler waits for the members first).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from bizdomain import names
from bizdomain.concurrency import each
from bizdomain.members.kinds import KINDS
from bizdomain.members.rest import JSON, Kube, KubeError
from bizdomain.plan import Desired, needs_apply
from bizdomain.plan.host import HostPlan

log = logging.getLogger(__name__)

HOST_CONCURRENCY = 16
HOST_SELECTOR = f"{names.LABEL_MANAGED_BY}={names.MANAGED_BY_VALUE},{names.LABEL_COMPONENT}={names.COMPONENT_HOST}"
HOST_KINDS = ("Namespace", "ResourceQuota", "RoleBinding")


async def _create_namespace(kube: Kube, desired: Desired) -> bool:
    """A plain create: True when we made it; "already exists" leaves it to the conflict check."""
    try:
        await kube.request("POST", KINDS["Namespace"].collection(), body=desired.body)
    except KubeError as exc:
        if exc.status != 409:
            raise
        log.warning("host: namespace %s appeared before the operator could create it: not adopted", desired.name)
        return False
    return True


async def sync_host(kube: Kube, plan: HostPlan) -> int:
    """Converge the host footprint; returns the number of writes. Raises KubeError when a list fails."""
    lists = await asyncio.gather(*(kube.list(kind, label_selector=HOST_SELECTOR) for kind in HOST_KINDS))
    live: dict[tuple[str, str | None, str], JSON] = {}
    for kind, items in zip(HOST_KINDS, lists, strict=True):
        for item in items:
            meta = item["metadata"]
            live[(kind, meta.get("namespace"), meta["name"])] = item
    writes = 0
    trusted = set(plan.trusted)
    created = await asyncio.gather(*(_create_namespace(kube, d) for d in plan.create))
    trusted.update(d.name for d, made in zip(plan.create, created, strict=True) if made)
    writes += sum(created)

    def ours(d: Desired) -> bool:
        return (d.namespace if d.namespace is not None else d.name) in trusted

    for batch in (
        [d for d in plan.apply if d.kind == "Namespace"],
        [d for d in plan.apply if d.kind == "ResourceQuota"],  # the cap before the owners' rights
        [d for d in plan.apply if d.kind not in ("Namespace", "ResourceQuota")],
    ):
        todo = [d for d in batch if ours(d) and needs_apply(d.body, live.get(d.key))]
        await each(todo, lambda d: kube.apply(d.body), HOST_CONCURRENCY)
        writes += len(todo)
    writes += await _recount(kube, [d for d in plan.apply if d.kind == "ResourceQuota" and ours(d)], live)
    wanted = {d.key for d in plan.desired}
    for key, obj in live.items():
        if key in wanted or not _prunable(key, obj, plan):
            continue
        domain = (obj["metadata"].get("labels") or {}).get(names.LABEL_DOMAIN)
        log.info("host: pruning %s %s of domain %s", key[0], "/".join(k for k in key[1:] if k), domain)
        await kube.delete(key[0], key[2], key[1], uid=obj["metadata"].get("uid"))
        writes += 1
    return writes


# Kubernetes' quota controller learns a new CRD's kinds from discovery every 30 s; a quota made
# before that is counted only at its next full resync (5 min), and until it is counted the API
# server refuses every binding there ("status unknown for quota"). A binding quota still uncounted
# this long after it was made is made again, which the controller then counts at once.
RECOUNT_AFTER_SECONDS = 40.0


def _uncounted(obj: JSON, now: datetime.datetime) -> bool:
    used = (obj.get("status") or {}).get("used") or {}
    made = obj["metadata"].get("creationTimestamp")
    if names.BINDING_COUNT_RESOURCE in used or not made:
        return False
    age = now - datetime.datetime.fromisoformat(made.replace("Z", "+00:00"))
    return age.total_seconds() > RECOUNT_AFTER_SECONDS


async def _recount(kube: Kube, quotas: list[Desired], live: dict[tuple[str, str | None, str], JSON]) -> int:
    """Make again each binding quota the quota controller has not counted (see RECOUNT_AFTER_SECONDS)."""
    now = datetime.datetime.now(datetime.UTC)
    writes = 0
    for desired in quotas:
        obj = live.get(desired.key)
        if obj is None or not _uncounted(obj, now):
            continue
        log.info("host: the binding quota of %s is not counted yet; making it again", desired.namespace)
        await kube.delete(desired.kind, desired.name, desired.namespace, uid=obj["metadata"].get("uid"))
        await kube.apply(desired.body)
        writes += 2
    return writes


def _prunable(key: tuple[str, str | None, str], obj: dict[str, Any], plan: HostPlan) -> bool:
    """Ours to delete: inside a namespace the plan trusts, or a namespace we made for a domain now gone."""
    kind, namespace, _ = key
    if kind != "Namespace":
        return namespace in plan.trusted
    labels = obj["metadata"].get("labels") or {}
    domain = labels.get(names.LABEL_DOMAIN)
    if not domain or domain in plan.domains or obj["metadata"].get("deletionTimestamp"):
        return False
    # Only a namespace stamped with a domain's uid was surely made by this operator.
    return names.LABEL_DOMAIN_UID in labels
