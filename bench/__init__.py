"""`make bench`: the bizdomain operator measured against the real local control plane.

One run per N (domains) on a fresh control plane of its own (host, M members, and M "floor"
members), side by side: cold convergence, the direct-apply floor computed with the operator's
own planner, steady-state API traffic read from the API servers' ``/metrics``, change latency,
and the operator's peak RSS. ``python -m bench --help`` (or ``make bench``) runs it;
``tests/bench/test_bench_smoke.py`` runs it at N=3 for correctness only.

Modules: :mod:`bench.workload` (pure: the generated specs and the floor's plans),
:mod:`bench.cluster` (control plane, clients), :mod:`bench.apimetrics`
(``apiserver_request_total`` parsing), :mod:`bench.process` (py-spy), :mod:`bench.phases`
(the measurements), :mod:`bench.floor` (the direct-apply floor), :mod:`bench.run` (one run per
N), :mod:`bench.results` (what a run measured), :mod:`bench.report` (table, JSON, plot, summary).
The operator subprocess and the platform install are the tests' own (:mod:`localcluster.harness`).
"""

from bench.results import RunResult
from bench.run import BenchConfig, run_benchmark
from bench.workload import Shape

__all__ = ["BenchConfig", "RunResult", "Shape", "run_benchmark"]
