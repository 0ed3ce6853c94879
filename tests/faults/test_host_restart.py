"""The host's API server goes away while the operator runs.

1. Killed and started again. Pass criteria: the operator process survives (same pid, never
   restarted) and keeps working on its own: a change to an existing domain made after the
   restart converges on the member and in status, a new domain made after it becomes Ready.
2. Frozen (SIGSTOP) past the operator's request timeout, then thawed. Pass criteria: no false
   alarm about a member: its Ready condition never flips and no CredentialsInvalid Warning is
   posted (the host was unreachable, not the member's credentials).
"""

from __future__ import annotations

import pytest

from support import wait_until
from support.platform import MakeDomain, Platform, domain_doc

from .conftest import Faults
from .probes import Stopwatch, domain_converged, member_events, member_ready, metric, operator_pid, report, wait_metric

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def dev_failures(platform: Platform) -> float:
    return metric(platform, "bizdomain_reconciles_total", cluster="dev", outcome="error")


def test_operator_keeps_working_across_a_host_restart(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    make_domain(unique_name, envs=("dev",))
    pid = operator_pid(platform)
    failed = dev_failures(platform)

    down = Stopwatch()
    faults.stop_apiserver("host")
    # The operator notices (a member pass fails: it cannot read the member's kubeconfig Secret).
    wait_metric(platform, "bizdomain_reconciles_total", failed + 1, timeout=30, cluster="dev", outcome="error")
    noticed = down()
    faults.start_apiserver("host")
    outage = down()
    assert operator_pid(platform) == pid, "the operator died with the host API server"

    back = Stopwatch()
    platform.apply(domain_doc(unique_name, quota={"requests.cpu": "4", "pods": "11"}))
    wait_until(
        lambda: (
            platform.require("resourcequota", "bizdomain-quota", unique_name, cluster="dev")["spec"]["hard"]["pods"]
            == "11"
        ),
        timeout=90,
        interval=0.25,
        what="a change made after the restart reaches dev",
    )
    change_applied = back()
    wait_until(lambda: domain_converged(platform, unique_name), timeout=30, what="status follows the change")
    change_in_status = back()
    created = make_domain(f"{unique_name}-after", envs=("dev",))

    assert operator_pid(platform) == pid, "the operator was restarted"
    for member in ("dev", "prod"):
        assert member_ready(platform, member).get("status") == "True", member
    report(
        "host_apiserver_restart",
        operator_noticed_s=noticed,
        host_outage_s=outage,
        change_on_member_after_restart_s=change_applied,
        change_in_status_after_restart_s=change_in_status,
        new_domain_ready_after_restart_s=round(created, 2),
    )


def test_host_outage_raises_no_member_alarm(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    make_domain(unique_name, envs=("dev",))
    pid = operator_pid(platform)
    ready_since = member_ready(platform, "dev")["lastTransitionTime"]
    seen = {e["metadata"]["uid"] for e in member_events(platform, "dev")}
    failed = dev_failures(platform)
    succeeded = metric(platform, "bizdomain_reconciles_total", cluster="dev", outcome="success")

    faults.pause_apiserver("host")
    # A dev pass fails: reading the kubeconfig Secret timed out (the request timeout is 10 s).
    wait_metric(platform, "bizdomain_reconciles_total", failed + 1, timeout=40, cluster="dev", outcome="error")
    faults.resume_apiserver("host")
    wait_metric(platform, "bizdomain_reconciles_total", succeeded + 1, timeout=30, cluster="dev", outcome="success")
    wait_until(lambda: domain_converged(platform, unique_name), timeout=30, what="the domain Ready")

    assert operator_pid(platform) == pid
    cond = member_ready(platform, "dev")
    alarms = [
        e["message"]
        for e in member_events(platform, "dev")
        if e["metadata"]["uid"] not in seen and e["reason"] == "CredentialsInvalid"
    ]
    assert not alarms, f"dev was reported CredentialsInvalid while the host was unreachable: {alarms}"
    assert cond["status"] == "True"
    assert cond["lastTransitionTime"] == ready_since, f"dev flipped Ready during the host outage: {cond}"
