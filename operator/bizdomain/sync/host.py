"""The operator's own footprint on the host: each domain's namespace and owner RoleBinding.

Same rules as on members: apply only what differs, prune only what carries our host
labels, and only when every list succeeded. A domain's host namespace is removed only
once the domain itself is gone (its deletion handler waits for the members first).
"""

from __future__ import annotations

import asyncio
import logging

from bizdomain import names
from bizdomain.concurrency import each
from bizdomain.members.rest import JSON, Kube
from bizdomain.plan import Desired, needs_apply

log = logging.getLogger(__name__)

HOST_CONCURRENCY = 16
HOST_SELECTOR = f"{names.LABEL_MANAGED_BY}={names.MANAGED_BY_VALUE},{names.LABEL_COMPONENT}={names.COMPONENT_HOST}"


async def sync_host(kube: Kube, desired: list[Desired], keep_domains: set[str]) -> int:
    """Converge the host footprint; returns the number of writes. Raises KubeError when a list fails."""
    namespaces, bindings = await asyncio.gather(
        kube.list("Namespace", label_selector=HOST_SELECTOR),
        kube.list("RoleBinding", label_selector=HOST_SELECTOR),
    )
    live: dict[tuple[str, str | None, str], JSON] = {}
    for kind, items in (("Namespace", namespaces), ("RoleBinding", bindings)):
        for item in items:
            meta = item["metadata"]
            live[(kind, meta.get("namespace"), meta["name"])] = item
    writes = 0
    for batch in (
        [d for d in desired if d.kind == "Namespace"],
        [d for d in desired if d.kind != "Namespace"],
    ):
        todo = [d for d in batch if needs_apply(d.body, live.get(d.key))]
        await each(todo, lambda d: kube.apply(d.body), HOST_CONCURRENCY)
        writes += len(todo)
    wanted = {d.key for d in desired}
    for key, obj in live.items():
        domain = (obj["metadata"].get("labels") or {}).get(names.LABEL_DOMAIN)
        if key in wanted or domain in keep_domains:
            continue
        log.info("host: pruning %s %s of domain %s, which is gone", key[0], key[2], domain)
        await kube.delete(key[0], key[2], key[1], uid=obj["metadata"].get("uid"))
        writes += 1
    return writes
