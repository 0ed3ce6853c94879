"""High availability: two replicas with leader election, exactly one active, bounded handover."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

import pytest

from localcluster.harness import OperatorProcess
from support import wait_until
from support.platform import Platform, binding_doc, domain_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def reconciles(op: OperatorProcess) -> float:
    """bizdomain_reconciles_total summed over clusters and outcomes, from the replica's own metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("bizdomain_reconciles_total{")
    )


def test_one_active_replica_and_bounded_handover(platform: Platform, unique_name: str, tmp_path: Path) -> None:
    platform.operator.stop()
    env = {**platform.operator.env, "BIZDOMAIN_RESYNC_SECONDS": "2"}
    args = ["--leader-election", "--lease-duration", "6", "--lease-retry", "1"]
    replicas = [
        OperatorProcess(platform.host.kubeconfig, tmp_path / f"replica-{i}.log", env=env, extra_args=args)
        for i in range(2)
    ]
    try:
        for replica in replicas:
            replica.start()
        active = wait_until(
            lambda: next((r for r in replicas if "is the active replica" in r.log()), None),
            timeout=30,
            what="one replica to become active",
        )
        standby = next(r for r in replicas if r is not active)
        platform.apply(domain_doc(unique_name))
        platform.wait_host_namespace(unique_name)
        platform.apply(binding_doc(unique_name, "dev"))
        platform.wait_binding(unique_name, "dev")
        time.sleep(3)
        assert reconciles(active) > 0
        assert reconciles(standby) == 0, "the standby replica must not reconcile"
        assert "is the active replica" not in standby.log()

        active.stop(signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: "is the active replica" in standby.log(), timeout=30, what="the standby to take over")
        took_over = time.monotonic() - killed
        platform.apply(binding_doc(unique_name, "dev", quota={"pods": "3"}))
        wait_until(
            lambda: (
                platform.require("resourcequota", "bizdomain-quota", unique_name, cluster="dev")["spec"]["hard"]["pods"]
                == "3"
            ),
            timeout=30,
            what="a change reconciled by the new leader",
        )
        converged = time.monotonic() - killed
        print(f"\nhandover after SIGKILL: lease taken in {took_over:.1f}s, change reconciled {converged:.1f}s later")
        assert took_over < 6 + 1 + 5  # lease duration + retry + slack
    finally:
        for replica in replicas:
            replica.stop()
        platform.operator.start()
        platform.delete("businessdomain", unique_name, wait=False)
