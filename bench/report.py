"""What a run shows a person: a table on stdout, results.json, a plot, and a one-line summary.

Targets (issue 6): cold convergence within 1.5x the floor, zero writes and flat reads in steady
state, change latency p99 under 2 s, peak RSS under 300 MB. :func:`verdicts` judges them; the
summary line (always the last line printed) carries the ratio. Called by ``python -m bench``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.results import RunResult
from bench.run import BenchConfig

TARGET_RATIO = 1.5
TARGET_P99 = 2.0
TARGET_RSS_MB = 300.0

COLUMNS = (
    ("N", "{r.n:>5}"),
    ("objects", "{r.objects:>7}"),
    ("cold s", "{r.cold_seconds:>7.1f}"),
    ("floor s", "{r.floor_seconds:>7.1f}"),
    ("ratio", "{r.ratio:>6.2f}"),
    ("inputs s", "{r.inputs_seconds:>8.1f}"),
    ("members s", "{r.members_seconds:>9.1f}"),
    ("op CPU s", "{r.operator_cpu_cold:>8.1f}"),
    ("writes/int", "{r.steady.writes_per_interval:>10.1f}"),
    ("host rd/int", "{r.steady.host.reads:>11.1f}"),
    ("mbr rd/int", "{r.steady.members.reads:>10.1f}"),
    ("mbr LIST/int", "{r.steady.members.lists:>12.1f}"),
    ("mbr MB/int", "{mb:>10.2f}"),
    ("pass s", "{r.steady.pass_seconds:>6.2f}"),
    ("CPU s/int", "{r.steady.operator_cpu_per_interval:>9.2f}"),
    ("chg p50 s", "{r.change_p50:>9.2f}"),
    ("chg p99 s", "{r.change_p99:>9.2f}"),
    ("RSS MiB", "{r.rss_peak_mib:>7.0f}"),
)


def table(results: Sequence[RunResult]) -> str:
    header = "  ".join(f"{name:>{len(fmt.format(r=results[0], mb=0.0))}}" for name, fmt in COLUMNS) if results else ""
    lines = [header, "-" * len(header)]
    for r in results:
        mb = r.steady.members.read_bytes / 1e6
        lines.append("  ".join(fmt.format(r=r, mb=mb) for _, fmt in COLUMNS))
    return "\n".join(lines)


def details(results: Sequence[RunResult]) -> str:
    """Per N: which requests the operator makes per interval in steady state, and any writes."""
    out = []
    for r in results:
        out.append(f"N={r.n}: steady state per {r.steady.passes_per_interval:.1f} member passes/interval "
                   f"(settled after {r.steady.settle_seconds:.0f}s)")  # fmt: skip
        out.append("  host:    " + ", ".join(f"{k} {v:.1f}" for k, v in r.steady.host.requests.items()))
        out.append("  members: " + ", ".join(f"{k} {v:.1f}" for k, v in r.steady.members.requests.items()))
        writes = {c: w for c, w in r.steady.writes.items() if w}
        out.append(f"  writes in the window: {writes or 'none'}")
        out.append(f"  change latencies s: {', '.join(f'{x:.2f}' for x in r.change_latencies)}")
        out.append(
            f"  objects: operator {r.objects}, floor {r.floor_objects}, same keys: {r.same_objects}; "
            f"status writes {r.status_writes:.0f}; RSS after cold {r.rss_after_cold_mib:.0f} MiB; "
            f"floor client CPU {r.floor_client_cpu:.1f}s"
        )
        for cluster, served in r.cold_requests.items():
            top = ", ".join(f"{k} {v}" for k, v in list(served.items())[:8])
            out.append(f"  cold, {cluster} served {sum(served.values())} requests: {top}")
        for phase, path in r.profiles.items():
            out.append(f"  profile {phase}: {path}")
    return "\n".join(out)


def verdicts(results: Sequence[RunResult]) -> dict[str, bool]:
    """Each target, met or not, over every N."""
    if not results:
        return {}
    first, last = results[0], results[-1]
    reads_flat = last.steady.members.reads <= 1.2 * first.steady.members.reads + 1 and (
        last.steady.host.reads <= 1.2 * first.steady.host.reads + 1
    )
    return {
        f"cold <= {TARGET_RATIO}x floor": all(r.ratio <= TARGET_RATIO for r in results),
        "zero steady writes": all(r.steady.writes_per_interval == 0 for r in results),
        "flat steady reads": reads_flat,
        f"change p99 < {TARGET_P99:.0f}s": all(r.change_p99 < TARGET_P99 for r in results),
        f"peak RSS < {TARGET_RSS_MB:.0f}MB": all(r.rss_peak_mib * 1.048576 < TARGET_RSS_MB for r in results),
    }


def summary(results: Sequence[RunResult], cfg: BenchConfig) -> str:
    """One line: the ratio and every other headline number at each N, then the verdicts."""
    each = "; ".join(
        f"N={r.n}: {r.cold_seconds:.1f}s vs floor {r.floor_seconds:.1f}s = {r.ratio:.2f}x, "
        f"steady {r.steady.writes_per_interval:.0f} writes/{r.steady.members.reads + r.steady.host.reads:.0f} reads, "
        f"change p99 {r.change_p99:.2f}s, RSS {r.rss_peak_mib:.0f}MiB"
        for r in results
    )
    verdict = ", ".join(f"{k}: {'ok' if ok else 'MISSED'}" for k, ok in verdicts(results).items())
    budgets = ", budgets" if cfg.budgets else ""
    return f"bench summary (E={cfg.environments} M={cfg.members}{budgets}): operator/floor {each} | {verdict}"


def write_json(results: Sequence[RunResult], cfg: BenchConfig, path: Path) -> None:
    doc: dict[str, Any] = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items()},
        "targets": verdicts(results),
        "results": [r.to_json() for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")


def _jsonable(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def plot(results: Sequence[RunResult], path: Path) -> None:
    """Time (cold, floor, change p99) and peak RSS against N, log-log (matplotlib, Agg)."""
    import matplotlib  # noqa: PLC0415  (optional: only `make bench` installs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    ns = [r.n for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(ns, [r.cold_seconds for r in results], "o-", label="operator: cold convergence")
    left.plot(ns, [r.floor_seconds for r in results], "s--", label="floor: direct server-side apply")
    left.plot(ns, [r.change_p99 for r in results], "^-", label="operator: change latency p99")
    left.plot(ns, [r.steady.pass_seconds for r in results], "v:", label="operator: one steady sync pass")
    left.axhline(TARGET_P99, color="grey", lw=0.8, ls=":")
    left.set(xscale="log", yscale="log", xlabel="domains (N)", ylabel="seconds", title="time against N")
    left.legend(fontsize=8)
    right.plot(ns, [r.rss_peak_mib * 1.048576 for r in results], "o-", color="tab:red", label="peak RSS (VmHWM)")
    right.axhline(TARGET_RSS_MB, color="grey", lw=0.8, ls=":", label=f"target {TARGET_RSS_MB:.0f} MB")
    right.set(xscale="log", xlabel="domains (N)", ylabel="MB", title="operator memory against N")
    right.legend(fontsize=8)
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"bizdomain: E={results[0].environments}, M={results[0].members}, "
                 f"{results[0].projects} projects, {results[0].departments} departments per domain")  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
