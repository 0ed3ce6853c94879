"""Prometheus metrics (``bizdomain_`` prefix), served on the operator's metrics port.

A leaf module: the sync layer and the runtime increment these; nothing here imports
the rest of bizdomain.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

RECONCILES = Counter(
    "bizdomain_reconciles_total", "Cluster sync passes, by cluster and outcome.", ["cluster", "outcome"]
)
RECONCILE_SECONDS = Histogram(
    "bizdomain_reconcile_duration_seconds",
    "Duration of one cluster sync pass.",
    ["cluster"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
OBJECTS = Counter(
    "bizdomain_objects_total",
    "Objects written on member clusters, by kind and action (created, updated, corrected, pruned, released).",
    ["cluster", "kind", "action"],
)
MEMBER_REACHABLE = Gauge(
    "bizdomain_member_cluster_reachable", "1 when the member answered its last probe.", ["cluster"]
)
DOMAINS = Gauge("bizdomain_domains", "BusinessDomains by Ready condition status.", ["ready"])
STATUS_WRITES = Counter("bizdomain_status_writes_total", "Status patches on host objects, by kind.", ["kind"])
# Domain budgets, per domain x environment x budgeted resource (only resources a budget names, so
# the series are at most domains x environments x the platform's few budgeted resources).
BUDGET_LABELS = ("domain", "environment", "resource")
BudgetLabels = tuple[str, str, str]
BudgetFigures = tuple[float, float, float]  # hard, allocated, used


class BudgetGauges:
    """``bizdomain_budget_hard``, ``_allocated`` and ``_used``: one snapshot the status round
    replaces whole, rendered at scrape time.

    Not labelled Gauge children: the status round sees every binding each second, and a round that
    hands over one dict neither sets thousands of children nor has to remove those of a domain no
    longer budgeted (a series is there exactly while the last round saw its budget). A scrape reads
    the snapshot through one reference, so it never sees half a round.
    """

    FAMILIES = (
        ("bizdomain_budget_hard", "A domain's budget in an environment."),
        ("bizdomain_budget_allocated", "Sum of the domain's namespace quotas (hard) in an environment."),
        ("bizdomain_budget_used", "Sum of the domain's namespace quotas' status.used in an environment."),
    )

    def __init__(self) -> None:
        self.figures: Mapping[BudgetLabels, BudgetFigures] = {}

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(name, help_, labels=BUDGET_LABELS) for name, help_ in self.FAMILIES]

    def collect(self) -> list[GaugeMetricFamily]:
        figures, families = self.figures, self.describe()
        for labels, values in figures.items():
            for family, value in zip(families, values, strict=True):
                family.add_metric(labels, value)
        return families


BUDGETS = BudgetGauges()
REGISTRY.register(BUDGETS)
