"""The floor: the planner's exact member objects applied straight to fresh members, no operator.

What the operator's cold convergence is compared with (see bench/README.md): the same objects,
the same client and the same per-member request budget, written by the simplest loop there is.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bizdomain.members import Kube, KubeError
from bizdomain.plan import ClusterPlan, Desired


@dataclass
class Floor:
    seconds: float  # tenant objects only (the platform roles and CRD were in place, as for the operator)
    objects: int  # every object applied, platform included
    client_cpu_seconds: float


async def _platform(kube: Kube, plan: ClusterPlan) -> int:
    """The platform objects are in place (`floor_identity` installed them as join does): wait for the CRD."""
    for _ in range(300):
        crd = await kube.get(plan.crd.kind, plan.crd.name)
        conditions = ((crd or {}).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            break
        await asyncio.sleep(0.1)
    else:
        raise KubeError(kube.cluster, 0, "CRDNotEstablished", plan.crd.name)
    return 1 + len(plan.platform)


async def apply_floor(plans: dict[str, ClusterPlan], kubes: dict[str, Kube], concurrency: int) -> Floor:
    """The same member objects, written by the simplest client: server-side apply of every
    desired object, cluster-scoped first, all members at once, ``member_concurrency`` requests
    in flight per member (the :class:`Kube` semaphore, as the operator's), no operator."""
    platform = sum(await asyncio.gather(*(_platform(kubes[m], p) for m, p in plans.items())))
    # Open every connection the pool may hold, as the operator's long-lived clients have.
    await asyncio.gather(*(k.version() for k in kubes.values() for _ in range(concurrency)))
    work: list[tuple[Kube, Desired]] = [
        (kubes[m], d) for m, plan in plans.items() for t in plan.tenants.values() for d in t.objects
    ]
    start, cpu = time.monotonic(), time.process_time()
    for batch in ([w for w in work if w[1].namespace is None], [w for w in work if w[1].namespace is not None]):
        await asyncio.gather(*(kube.apply(d.body) for kube, d in batch))
    return Floor(time.monotonic() - start, platform + len(work), time.process_time() - cpu)
