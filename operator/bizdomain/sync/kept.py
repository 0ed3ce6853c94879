"""The quotas a pass reports its budgeted domains' namespaces hold on the member (see plan.kept). Pure.

Called by :mod:`bizdomain.sync.engine` after the decide step, with the member view's namespaces and
quota figures: the namespaces in the view, and those this pass creates (with the quota it applies),
so that no change right after the pass can place them twice before the watch has seen them. Only
for the budgeted domains: nobody reads the figures of the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bizdomain.config import Settings
from bizdomain.decide import Decision
from bizdomain.plan.kept import Kept, kept_quotas


def quota_figures(decision: Decision, statuses: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """namespace -> the ``hard`` and ``used`` of our quota there after this pass: ``hard`` as this pass
    applies it (else as the view holds it), ``used`` as the member counted it. So a namespace's share is
    shown and counted from the pass that makes it, not one pass (and one more status write) later."""
    out = {namespace: dict(figures) for namespace, figures in statuses.items()}
    for apply in decision.applies:
        desired = apply.desired
        if desired.kind == "ResourceQuota" and desired.namespace:
            used = out.get(desired.namespace, {}).get("used") or {}
            out[desired.namespace] = {"hard": desired.body["spec"]["hard"], "used": used}
    return out


def kept_on_member(
    decision: Decision,
    namespaces: Mapping[str, Mapping[str, Any]],
    figures: Mapping[str, Mapping[str, Any]],
    settings: Settings,
) -> dict[tuple[str, str], tuple[Kept, ...]]:
    """Per (domain, environment) of the plan's budgeted domains, what their namespaces hold here
    (``figures``: :func:`quota_figures`), also those this pass creates."""
    plan = decision.plan
    if not plan.budgeted:
        return {}
    seen = dict(namespaces)
    for apply in decision.applies:
        if apply.create and apply.desired.kind == "Namespace":
            seen.setdefault(apply.desired.name, apply.desired.body)
    return kept_quotas(
        plan.cluster,
        seen,
        figures,
        owners=plan.owners,
        budgeted=plan.budgeted,
        protected_member=plan.protected,
        settings=settings,
    )
