"""The quotas a pass reports its budgeted domains' namespaces hold on the member (see plan.kept). Pure.

Called by :mod:`bizdomain.sync.engine` after the decide step, with the member view's namespaces and
quota figures: the namespaces in the view, and those this pass creates (with the quota it applies),
so that no change right after the pass can place them twice before the watch has seen them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bizdomain.config import Settings
from bizdomain.decide import Decision
from bizdomain.plan.kept import Kept, kept_quotas


def kept_on_member(
    decision: Decision,
    namespaces: Mapping[str, Mapping[str, Any]],
    quotas: Mapping[str, Mapping[str, Any]],
    settings: Settings,
) -> dict[tuple[str, str], tuple[Kept, ...]]:
    """Per (domain, environment) of the plan's budgeted domains, what their namespaces hold here."""
    plan = decision.plan
    if not plan.budgeted:
        return {}
    seen = dict(namespaces)
    held = dict(quotas)
    for apply in decision.applies:
        desired = apply.desired
        if apply.create and desired.kind == "Namespace":
            seen.setdefault(desired.name, desired.body)
        elif desired.kind == "ResourceQuota" and desired.namespace and not held.get(desired.namespace):
            held[desired.namespace] = {"hard": desired.body["spec"]["hard"], "used": {}}
    return kept_quotas(
        plan.cluster,
        seen,
        held,
        owners=plan.owners,
        budgeted=plan.budgeted,
        protected_member=plan.protected,
        settings=settings,
    )
