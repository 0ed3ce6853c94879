"""``python -m bench``: run the benchmark, print the table, write results.json and the plot.

``make bench`` calls it with ``--ns "$(BENCH_NS)"``; progress goes to stderr, and the last line
on stdout is the one-line summary with the operator/floor ratio.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.report import details, plot, summary, table, write_json
from bench.run import BenchConfig, run_benchmark


def _ns(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.replace(",", " ").split())


def main(argv: list[str] | None = None) -> int:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--ns", type=_ns, default=defaults.ns, help='domain counts, e.g. "10 100 1000"')
    parser.add_argument("--environments", "-E", type=int, default=defaults.environments)
    parser.add_argument("--members", "-M", type=int, default=defaults.members)
    parser.add_argument("--projects", type=int, default=defaults.projects, help="namespaces per domain and environment")
    parser.add_argument("--departments", type=int, default=defaults.departments, help="RoleBindings per namespace, +1")
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="binding edits for change latency")
    parser.add_argument("--resync", type=float, default=defaults.resync_seconds, help="BIZDOMAIN_RESYNC_SECONDS")
    parser.add_argument("--intervals", type=int, default=defaults.intervals, help="re-sync intervals per window")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="BIZDOMAIN_MEMBER_CONCURRENCY")
    parser.add_argument("--out", type=Path, default=defaults.out_dir, help="results directory")
    parser.add_argument("--profile", action="store_true", help="py-spy the operator in each phase")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--budgets", action="store_true", help="give every domain a budget in each environment")
    args = parser.parse_args(argv)
    cfg = BenchConfig(
        ns=args.ns,
        environments=args.environments,
        members=args.members,
        projects=args.projects,
        departments=args.departments,
        repeats=args.repeats,
        resync_seconds=args.resync,
        intervals=args.intervals,
        concurrency=args.concurrency,
        out_dir=args.out.resolve(),
        profile=args.profile,
        budgets=args.budgets,
    )
    results = run_benchmark(cfg)
    print(table(results))
    print()
    print(details(results))
    write_json(results, cfg, cfg.out_dir / "results.json")
    print(f"\nresults: {cfg.out_dir / 'results.json'}")
    if not args.no_plot:
        plot(results, cfg.out_dir / "bench.png")
        print(f"plot: {cfg.out_dir / 'bench.png'}")
    print(summary(results, cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
