"""`make bench --budgets` at N=3, E=2, M=2, for correctness only (no timing is asserted).

The benchmark brings up a control plane of its own (in the test's tmp directory, beside the
session's), runs the operator for real, and then the floor; this checks that every phase
completes and measures what it claims to: every domain Ready, the floor applying exactly the
objects the operator made, and no write in steady state, with every domain budgeted (so the
budget's host annotations and folded usage are in the steady window too).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import BenchConfig, Shape, report, run_benchmark

pytestmark = pytest.mark.cluster


def test_benchmark_completes_at_small_n(tmp_path: Path) -> None:
    cfg = BenchConfig(
        ns=(3,),
        environments=2,
        members=2,
        repeats=3,
        resync_seconds=5,
        intervals=2,
        out_dir=tmp_path / "results",
        state_dir=tmp_path / "plane",
        budgets=True,
    )
    [result] = run_benchmark(cfg)
    shape = Shape(3, 2, 2, budgets=True)

    assert result.ready == 3
    expected = sum(shape.objects_per_member(m) for m in shape.member_names())
    assert result.objects == expected
    assert result.floor_objects == result.objects
    assert result.same_objects, "the floor members should hold exactly the operator members' objects"
    assert result.steady.writes_per_interval == 0, result.steady.writes
    assert result.steady.passes_per_interval > 0
    assert len(result.change_latencies) == 3
    assert all(math.isfinite(x) and x > 0 for x in result.change_latencies)
    assert result.rss_peak_mib > 0
    assert not (tmp_path / "plane").exists(), "the benchmark's control plane should be down"

    report.write_json([result], cfg, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["results"][0]["n"] == 3
    assert "N=3" in report.summary([result], cfg)
    assert "budgets" in report.summary([result], cfg)
    assert report.table([result]).count("\n") == 2
