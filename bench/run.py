"""One benchmark run per N, each on a fresh control plane of its own, every phase side by side.

For each N: bring up host, members and floor members; install the platform and join the
members; start the operator; then measure, in order, cold convergence, steady-state traffic
(after the writes settle), change latency, peak RSS; stop the operator and measure the same
window again as a baseline; finally the floor on the floor members. The control plane is
brought down whatever happens. :func:`run_benchmark` is what ``python -m bench`` and the
smoke test call; results are plain dataclasses for :mod:`bench.report`.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import phases
from bench.apimetrics import HOST_RESOURCES, MEMBER_RESOURCES, Scrape, Traffic, raw_writes, traffic
from bench.cluster import ROOT, BenchPlane, Key, floor_identity, managed_keys
from bench.floor import Floor, apply_floor
from bench.process import Profiler, busy_seconds, summarize_profile, top_self
from bench.results import RunResult, Steady, percentile
from bench.workload import Shape, floor_plans
from bizdomain.config import Settings
from bizdomain.members import Kube
from localcluster.harness import NAMESPACE, OperatorProcess, install_platform


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the table and the summary."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BenchConfig:
    """What to run: the sizes, the operator's settings, and where results go."""

    ns: tuple[int, ...] = (10, 100, 1000)
    environments: int = 2
    members: int = 2
    projects: int = 2
    departments: int = 2
    repeats: int = 20
    resync_seconds: float = 10.0
    intervals: int = 3
    concurrency: int = 16
    out_dir: Path = ROOT / "bench" / "results"
    state_dir: Path | None = None
    profile: bool = False
    cold_timeout: float = 3600.0
    budgets: bool = False

    def shape(self, n: int) -> Shape:
        return Shape(n, self.environments, self.members, self.projects, self.departments, budgets=self.budgets)

    @property
    def plane_dir(self) -> Path:
        return self.state_dir or self.out_dir / "plane"

    def operator_env(self) -> dict[str, str]:
        return {
            "BIZDOMAIN_NAMESPACE": NAMESPACE,
            "BIZDOMAIN_RESYNC_SECONDS": str(self.resync_seconds),
            "BIZDOMAIN_MEMBER_CONCURRENCY": str(self.concurrency),
        }


class _Phase:
    """Optionally py-spy the operator for one phase; the summary goes next to the raw stacks."""

    def __init__(self, run: _Run, name: str) -> None:
        assert run.op is not None
        self.path = run.cfg.out_dir / f"profile-n{run.shape.domains}-{name}.txt"
        self.profiler = Profiler(run.op.pid, self.path) if run.cfg.profile else None
        self.name = name
        self.profiles = run.profiles

    def stop(self) -> None:
        if self.profiler is None:
            return
        raw = self.profiler.stop()
        lines = [f"event loop busy for {busy_seconds(raw):.1f}s of this phase (py-spy, 100 Hz)", ""]
        lines += ["inclusive   self  function (by inclusive time)"]
        lines += [f"{inc:8.1f}% {own:5.1f}%  {fn}" for fn, inc, own in summarize_profile(raw)]
        lines += ["", "self  function (by self time)"]
        lines += [f"{own:5.1f}%  {fn}" for fn, own in top_self(raw)]
        summary = raw.with_suffix(".top.txt")
        summary.write_text("\n".join(lines) + "\n")
        self.profiles[self.name] = str(summary)


@dataclass
class _Measured:
    """The operator's numbers at one N, before the floor and the arithmetic."""

    cold: phases.Cold
    cpu_cold: float
    rss_after_cold: float
    objects: dict[str, set[Key]]
    settle: float
    active: dict[str, Scrape]
    base: dict[str, Scrape] = field(default_factory=dict)
    om: tuple[dict[str, float], dict[str, float]] = ({}, {})
    cpu_steady: float = 0.0
    latencies: list[float] = field(default_factory=list)
    peak: float = 0.0
    status_writes: float = 0.0
    cold_requests: dict[str, dict[str, int]] = field(default_factory=dict)


class _Run:
    """One N: the control plane, the clients, the operator, and the phases in order."""

    def __init__(self, cfg: BenchConfig, n: int) -> None:
        self.cfg = cfg
        self.shape = cfg.shape(n)
        self.members = self.shape.member_names()
        self.floors = {m: f"f-{m}" for m in self.members}
        self.clusters = ["host", *self.members]
        self.plane = BenchPlane(cfg.plane_dir)
        self.kubes: list[Kube] = []
        self.op: OperatorProcess | None = None
        self.profiles: dict[str, str] = {}

    async def run(self) -> RunResult:
        n = self.shape.domains
        self.cfg.out_dir.mkdir(parents=True, exist_ok=True)
        say(f"N={n}: starting the control plane: host, {self.members}, floor members {list(self.floors.values())}")
        self.plane.up(["host", *self.members, *self.floors.values()])
        try:
            await self._setup()
            measured = await self._operator()
            say(f"N={n}: the floor: the planner's objects applied directly to {list(self.floors.values())}")
            settings = Settings.from_env(self.cfg.operator_env())
            floor = await apply_floor(floor_plans(self.shape, settings), self.floor_kubes, self.cfg.concurrency)
            floor_objects = {m: await managed_keys(self.floor_kubes[m]) for m in self.members}
        finally:
            if self.op is not None:
                self.op.stop()
            for kube in self.kubes:
                await kube.close()
            say(f"N={n}: stopping the control plane")
            self.plane.down()
        return self._result(measured, floor, floor_objects)

    async def _setup(self) -> None:
        cfg = self.cfg
        install_platform(self.plane.state, {m: self.shape.member_environments(m) for m in self.members})
        self.floor_kubes = {m: await floor_identity(self.plane, f, cfg.concurrency) for m, f in self.floors.items()}
        self.host = await self.plane.admin_kube("host", cfg.concurrency)
        self.poller = await self.plane.admin_kube("host", 4)
        self.admins = {m: await self.plane.admin_kube(m, 4) for m in self.members}
        self.kubes += [*self.floor_kubes.values(), self.host, self.poller, *self.admins.values()]
        log = cfg.out_dir / f"operator-n{self.shape.domains}.log"
        log.unlink(missing_ok=True)
        self.op = OperatorProcess(self.plane.kubeconfig("host"), log, env=cfg.operator_env(), verbose=False)
        self.op.start()
        await phases.wait_members_ready(self.poller, self.members)

    async def _operator(self) -> _Measured:
        cfg, shape, op, n = self.cfg, self.shape, self.op, self.shape.domains
        assert op is not None
        say(f"N={n}: cold convergence of {n} domains x {shape.environments} environments")
        phase, cpu = _Phase(self, "cold"), op.cpu_seconds()
        before = await phases.scrape(self.plane, self.clusters)
        cold = await phases.cold_convergence(
            shape,
            self.host,
            self.poller,
            interval=0.2,  # reads the watched state: no request
            within=cfg.cold_timeout,
            created=op.objects_created,
        )
        cpu_cold = op.cpu_seconds() - cpu
        phase.stop()
        after = await phases.scrape(self.plane, self.clusters)
        say(
            f"N={n}: Ready in {cold.seconds:.1f}s (inputs applied in {cold.inputs_seconds:.1f}s, "
            f"member objects created in {cold.members_seconds:.1f}s)"
        )
        objects = {m: await managed_keys(self.admins[m]) for m in self.members}
        settle = await phases.settle(self.plane, self.clusters, quiet=cfg.resync_seconds, cap=6 * cfg.resync_seconds)

        seconds = cfg.intervals * cfg.resync_seconds
        say(f"N={n}: settled after {settle:.0f}s; steady window of {cfg.intervals} x {cfg.resync_seconds:.0f}s")
        phase, om0, cpu = _Phase(self, "steady"), op.metrics(), op.cpu_seconds()
        active = await phases.window(self.plane, self.clusters, seconds)
        measured = _Measured(cold, cpu_cold, op.memory_kib()[1] / 1024, objects, settle, active)
        measured.cold_requests = {c: phases.requests(after[c], before[c]) for c in self.clusters}
        measured.om, measured.cpu_steady = (om0, op.metrics()), op.cpu_seconds() - cpu
        phase.stop()

        say(f"N={n}: change latency, {cfg.repeats} edits")
        phase = _Phase(self, "change")
        measured.latencies = await phases.change_latency(shape, self.host, self.admins, cfg.repeats)
        phase.stop()
        measured.peak = op.memory_kib()[0] / 1024
        measured.status_writes = op.metrics().get("bizdomain_status_writes_total", 0.0)
        op.stop()

        say(f"N={n}: baseline window with the operator stopped")
        await asyncio.sleep(2)
        measured.base = await phases.window(self.plane, self.clusters, seconds)
        return measured

    def _result(self, m: _Measured, floor: Floor, floor_objects: dict[str, set[Key]]) -> RunResult:
        cfg, shape = self.cfg, self.shape
        om0, om1 = m.om
        count, total = "bizdomain_reconcile_duration_seconds_count", "bizdomain_reconcile_duration_seconds_sum"
        passes = om1.get(count, 0) - om0.get(count, 0)
        pass_time = om1.get(total, 0) - om0.get(total, 0)
        writes = {
            c: raw_writes(m.active[c], HOST_RESOURCES if c == "host" else MEMBER_RESOURCES) for c in self.clusters
        }
        member_traffic = Traffic()
        for name in self.members:
            member_traffic = member_traffic.add(traffic(m.active[name], MEMBER_RESOURCES, cfg.intervals, m.base[name]))
        steady = Steady(
            host=traffic(m.active["host"], HOST_RESOURCES, cfg.intervals, m.base["host"]),
            members=member_traffic,
            writes=writes,
            writes_per_interval=sum(sum(w.values()) for w in writes.values()) / cfg.intervals,
            passes_per_interval=passes / cfg.intervals,
            pass_seconds=pass_time / passes if passes else math.nan,
            operator_cpu_per_interval=m.cpu_steady / cfg.intervals,
            settle_seconds=m.settle,
        )
        return RunResult(
            n=shape.domains,
            environments=shape.environments,
            members=shape.members,
            projects=shape.projects,
            departments=shape.departments,
            objects=sum(len(keys) for keys in m.objects.values()),
            floor_objects=floor.objects,
            same_objects=all(m.objects[name] == floor_objects[name] for name in self.members),
            ready=m.cold.ready,
            cold_seconds=m.cold.seconds,
            inputs_seconds=m.cold.inputs_seconds,
            members_seconds=m.cold.members_seconds,
            floor_seconds=floor.seconds,
            ratio=m.cold.seconds / floor.seconds if floor.seconds else math.nan,
            operator_cpu_cold=m.cpu_cold,
            floor_client_cpu=floor.client_cpu_seconds,
            steady=steady,
            change_latencies=m.latencies,
            change_p50=percentile(m.latencies, 50),
            change_p99=percentile(m.latencies, 99),
            rss_peak_mib=m.peak,
            rss_after_cold_mib=m.rss_after_cold,
            status_writes=m.status_writes,
            cold_timeline=m.cold.timeline,
            cold_requests=m.cold_requests,
            profiles=self.profiles,
        )


async def run_one(cfg: BenchConfig, n: int) -> RunResult:
    """Every phase at one N, on a control plane started for it and stopped after."""
    return await _Run(cfg, n).run()


def run_benchmark(cfg: BenchConfig) -> list[RunResult]:
    """Every N in ``cfg.ns``, one after the other, each on its own control plane."""
    return [asyncio.run(run_one(cfg, n)) for n in cfg.ns]
