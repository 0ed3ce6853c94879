"""The status writer's rules of when to write, with a client that only records the writes."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY, generate_latest

from bizdomain.api.domain import BudgetUsage
from bizdomain.members import Kube, KubeError
from bizdomain.reporting import PROGRESS_SECONDS, REFUSED_SECONDS, StatusWriter, budget_gauges
from unit import factories
from unit.factories import SETTINGS


class _Recorder:
    cluster = "host"

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []

    async def apply(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.applied.append(body)
        return body


def _status(ready: str, clusters: str, generation: int = 1) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "conditions": [
            {"type": "Ready", "status": ready, "reason": "Reconciled" if ready == "True" else "Progressing"}
        ],
        "summary": {"clusters": clusters},
    }


def _writer() -> tuple[StatusWriter, _Recorder]:
    recorder = _Recorder()
    return StatusWriter(SETTINGS, cast(Kube, recorder)), recorder


def test_progress_alone_waits_and_a_flip_is_written_at_once() -> None:
    writer, recorder = _writer()

    async def rounds() -> None:
        await writer._write("BusinessDomain", "pay", None, {}, _status("False", "0/2"))
        await writer._write("BusinessDomain", "pay", None, _status("False", "0/2"), _status("False", "1/2"))
        assert writer.deferred is not None
        assert 0 < writer.deferred <= PROGRESS_SECONDS
        await writer._write("BusinessDomain", "pay", None, _status("False", "0/2"), _status("True", "2/2"))

    asyncio.run(rounds())
    assert [b["status"]["summary"]["clusters"] for b in recorder.applied] == ["0/2", "2/2"]


def test_a_new_generation_is_never_held_back() -> None:
    writer, recorder = _writer()

    async def rounds() -> None:
        await writer._write("EnvironmentBinding", "dev", "domain-pay", {}, _status("True", "1/1"))
        await writer._write(
            "EnvironmentBinding", "dev", "domain-pay", _status("True", "1/1"), _status("True", "1/1", generation=2)
        )

    asyncio.run(rounds())
    assert len(recorder.applied) == 2
    assert writer.deferred is None


class _Refuser(_Recorder):
    """A host whose RBAC refuses status writes until ``allowed``."""

    allowed = False
    refusals = 0

    async def apply(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if not self.allowed:
            self.refusals += 1
            raise KubeError("host", 403, "Forbidden", "cannot patch resource businessdomains/status")
        return await super().apply(body, **kwargs)


def test_a_refused_kind_waits_before_it_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    host = _Refuser()
    writer = StatusWriter(SETTINGS, cast(Kube, host))
    clock = [1000.0]
    monkeypatch.setattr("bizdomain.reporting.time.monotonic", lambda: clock[0])

    async def rounds() -> None:
        for name in ("a", "b", "c"):  # one refusal, then the kind waits: not one per object
            await writer._write("BusinessDomain", name, None, {}, _status("False", "0/1"))
        assert host.refusals == 1
        assert writer.deferred == REFUSED_SECONDS[0]
        clock[0] += REFUSED_SECONDS[0]
        await writer._write("BusinessDomain", "a", None, {}, _status("False", "0/1"))
        assert host.refusals == 2
        writer.deferred = None
        await writer._write("BusinessDomain", "a", None, {}, _status("False", "0/1"))
        assert writer.deferred == min(2 * REFUSED_SECONDS[0], REFUSED_SECONDS[1])  # the wait doubles, capped
        host.allowed = True
        clock[0] += REFUSED_SECONDS[1]
        for name in ("a", "b"):
            await writer._write("BusinessDomain", name, None, {}, _status("False", "0/1"))

    asyncio.run(rounds())
    assert [b["metadata"]["name"] for b in host.applied] == ["a", "b"]


class _EventRecorder(_Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.posted: list[tuple[str, dict[str, Any]]] = []

    async def request(self, method: str, path: str, *, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.posted.append((path, body))
        return body


def test_a_conflicting_host_namespace_gets_no_write_and_its_domain_says_so_once() -> None:
    payments, billing = factories.domain("payments"), factories.domain("billing")
    world = factories.world(
        [payments, billing],
        [factories.binding("dev", domain="payments"), factories.binding("dev", domain="billing")],
        host_namespaces=[factories.host_namespace(payments, labels={}), factories.host_namespace(billing)],
    )
    recorder = _EventRecorder()
    writer = StatusWriter(SETTINGS, cast(Kube, recorder))

    asyncio.run(writer.write(world, {}, {}))
    asyncio.run(writer.write(world, {}, {}))

    written = {(b["kind"], b["metadata"].get("namespace"), b["metadata"]["name"]) for b in recorder.applied}
    assert ("EnvironmentBinding", "domain-payments", "dev") not in written, "nothing written into that namespace"
    assert ("EnvironmentBinding", "domain-billing", "dev") in written
    domain = next(b for b in recorder.applied if b["metadata"]["name"] == "payments")
    assert domain["status"]["conditions"][0]["reason"] == "HostNamespaceConflict"
    events = [body for path, body in recorder.posted if body["reason"] == "HostNamespaceConflict"]
    assert len(events) == 1, "one Event per conflict, not one per round"
    assert events[0]["involvedObject"]["name"] == "payments"
    assert all("domain-payments" not in path for path, _ in recorder.posted), "no Event in that namespace"


def test_budget_gauges_show_the_last_round_and_nothing_of_a_domain_no_longer_budgeted() -> None:
    budgeted = factories.domain_spec_dict(budgets=[{"environment": "dev", "hard": {"pods": "10", "requests.cpu": "2"}}])
    writer = StatusWriter(SETTINGS, cast(Kube, _Recorder()))
    binding = factories.binding("dev", domain="gauged")

    asyncio.run(writer.write(factories.world([factories.domain("gauged", budgeted)], [binding]), {}, {}))
    exposed = generate_latest(REGISTRY.restricted_registry(["bizdomain_budget_hard", "bizdomain_budget_allocated"]))
    assert 'bizdomain_budget_hard{domain="gauged",environment="dev",resource="requests.cpu"} 2.0' in exposed.decode()
    assert 'bizdomain_budget_allocated{domain="gauged",environment="dev",resource="pods"} 0.0' in exposed.decode()

    asyncio.run(writer.write(factories.world([factories.domain("gauged")], [binding]), {}, {}))
    assert b'domain="gauged"' not in generate_latest(REGISTRY), "a series lives exactly while its budget does"


def test_budget_gauge_figures_are_the_usage_in_numbers() -> None:
    entry = BudgetUsage(
        environment="prod", hard={"requests.memory": "1Gi", "pods": "10"}, allocated={"pods": "4"}, used={"pods": "3"}
    )
    assert budget_gauges("payments", entry) == {
        ("payments", "prod", "requests.memory"): (2.0**30, 0.0, 0.0),
        ("payments", "prod", "pods"): (10.0, 4.0, 3.0),
    }
