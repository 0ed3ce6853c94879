"""``python -m bench.plan``: how long an offline ``bizdomain plan`` takes at scale (no cluster).

Writes N domains x E environments, each environment served by C member clusters, as the YAML
files of a GitOps repository (the benchmark's own workload, :mod:`bench.workload`), then times
``bizdomain plan`` in this process, output discarded:

- ``new``: every object is new (``-f repo``): the operator's planner and decide step for every
  tenant on every member, and every create described;
- ``pr``: a pull request changing one binding's quota, against the same files as the base
  (``--base repo -f change.yaml``): the base converged per member, then the change decided
  against it, as a CI check on a pull request runs it;
- ``pr-json``: the same with ``-o json``.

Prints one line per case (seconds, wall clock, best of ``--repeats``) and the peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.workload import Shape
from bizdomain import cli, names


def write_repo(root: Path, shape: Shape, clusters_per_environment: int) -> int:
    """The repository's files; returns how many member clusters it names."""
    docs: list[dict[str, Any]] = [shape.domain_doc(i) for i in range(shape.domains)]
    (root / "domains.yaml").write_text(yaml.safe_dump_all(docs, allow_unicode=True))
    bindings = [shape.binding_doc(i, env) for i in range(shape.domains) for env in shape.environment_names()]
    (root / "bindings.yaml").write_text(yaml.safe_dump_all(bindings, allow_unicode=True))
    members = [
        {
            "apiVersion": names.API_VERSION,
            "kind": names.KIND_MEMBER,
            "metadata": {"name": f"{env}-{k + 1}"},
            "spec": {"kubeconfigSecretRef": {"name": f"member-{env}-{k + 1}"}, "environments": [env]},
        }
        for env in shape.environment_names()
        for k in range(clusters_per_environment)
    ]
    (root / "clusters.yaml").write_text(yaml.safe_dump_all(members))
    return len(members)


def timed(argv: list[str], repeats: int) -> tuple[float, int]:
    """Best wall-clock seconds of ``bizdomain <argv>`` (output discarded), and its exit code."""
    best, code = float("inf"), 0
    for _ in range(repeats):
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            start = time.perf_counter()
            code = cli.main(argv)
            best = min(best, time.perf_counter() - start)
    return best, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.split("\n")[0])
    parser.add_argument("--domains", "-N", type=int, default=1000)
    parser.add_argument("--environments", "-E", type=int, default=2)
    parser.add_argument("--clusters", "-C", type=int, default=2, help="member clusters per environment")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    shape = Shape(domains=args.domains, environments=args.environments)
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        members = write_repo(repo, shape, args.clusters)
        change = Path(tmp) / "change.yaml"
        change.write_text(yaml.safe_dump(shape.binding_doc(0, "prod", quota={"requests.cpu": "8"})))
        print(
            f"offline plan: {args.domains} domains x {args.environments} environments x {args.clusters} clusters "
            f"each ({members} members, {args.domains * args.environments * args.clusters} tenant placements)",
            file=sys.stderr,
        )
        cases = {
            "new": ["plan", "-f", str(repo), "--color", "never"],
            "pr": ["plan", "--base", str(repo), "-f", str(change), "--color", "never"],
            "pr-json": ["plan", "--base", str(repo), "-f", str(change), "-o", "json"],
        }
        results = {}
        for case, command in cases.items():
            seconds, code = timed(command, args.repeats)
            results[case] = {"seconds": round(seconds, 2), "exit": code}
            print(f"{case:8} {seconds:7.2f} s  (exit {code})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    print(json.dumps({"domains": args.domains, "members": members, "results": results, "peak_rss_mib": round(peak)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
