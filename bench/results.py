"""What one run measured, as data: :class:`RunResult` (written to results.json) and its parts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.apimetrics import Traffic


@dataclass
class Steady:
    """API traffic per re-sync interval with nothing changing, operator less baseline."""

    host: Traffic
    members: Traffic  # summed over the member clusters
    writes: dict[str, dict[str, int]]  # raw writes on bizdomain's resources in the window, by cluster
    writes_per_interval: float
    passes_per_interval: float
    pass_seconds: float  # mean duration of one member sync pass in the window
    operator_cpu_per_interval: float
    settle_seconds: float


@dataclass
class RunResult:
    """Everything measured at one N."""

    n: int
    environments: int
    members: int
    projects: int
    departments: int
    objects: int  # member objects the operator made (listed on the members)
    floor_objects: int  # member objects the floor applied
    same_objects: bool  # the floor members hold exactly the operator members' object keys
    ready: int
    cold_seconds: float
    inputs_seconds: float
    members_seconds: float  # when the operator had created every member object (its own counter)
    floor_seconds: float
    ratio: float  # cold_seconds / floor_seconds
    operator_cpu_cold: float
    floor_client_cpu: float
    steady: Steady
    change_latencies: list[float]
    change_p50: float
    change_p99: float
    rss_peak_mib: float
    rss_after_cold_mib: float
    status_writes: float
    cold_timeline: list[tuple[float, int, int, int, int]] = field(default_factory=list)
    # cluster -> "VERB resource[/subresource]" -> requests its API server served during cold convergence
    cold_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 20 samples is the largest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
