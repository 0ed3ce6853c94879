"""A Sandbox's status from the passes: Provisioning until every selected member holds it, then Ready,
Expiring past 80% of its life; an unparseable one or one without a base says so."""

from __future__ import annotations

import dataclasses
import datetime

from bizdomain.api.sandbox import SandboxSpec
from bizdomain.plan.inputs import SandboxRecord
from bizdomain.report import TenantOutcome
from bizdomain.sandbox_status import sandbox_status
from bizdomain.sync import ClusterReport

from .factories import SETTINGS, binding, domain, member, world

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def sandbox() -> SandboxRecord:
    spec = SandboxSpec.model_validate({"environment": "dev", "owner": "alice@example.com", "ttl": "10h"})
    return SandboxRecord("domain-payments", "feature-x", "uid-x", 1, "2026-01-01T00:00:00Z", spec)


def report(*, ok: bool = True) -> ClusterReport:
    out = ClusterReport("dev", ok=ok)
    outcome = TenantOutcome("payments", "dev--feature-x", namespaces=["payments--feature-x"], generations=(1, 1))
    out.tenants[outcome.domain, outcome.environment] = outcome
    return out


def ready(status: dict[str, object]) -> dict[str, object]:
    conditions = status["conditions"]
    assert isinstance(conditions, list)
    return next(c for c in conditions if c["type"] == "Ready")


def test_provisioning_until_the_member_holds_it_then_ready() -> None:
    w = dataclasses.replace(world([domain()], [binding("dev")], [member()]), sandboxes={})
    first = sandbox_status(sandbox(), w, {}, SETTINGS, START).to_wire()
    assert first["phase"] == "Provisioning"
    assert ready(first)["status"] == "False"
    assert first["expiresAt"] == "2026-01-01T10:00:00Z"
    done = sandbox_status(sandbox(), w, {"dev": report()}, SETTINGS, START).to_wire()
    assert done["phase"] == "Ready"
    assert ready(done)["status"] == "True"
    assert done["clusters"] == [{"cluster": "dev", "namespaces": ["payments--feature-x"]}]
    assert {"subject": "User:alice@example.com", "role": "bizdomain.io:admin"} in done["rights"]


def test_expiring_past_80_percent_of_its_life() -> None:
    w = world([domain()], [binding("dev")], [member()])
    later = sandbox_status(sandbox(), w, {"dev": report()}, SETTINGS, START + datetime.timedelta(hours=9)).to_wire()
    assert later["phase"] == "Expiring"
    soon = next(c for c in later["conditions"] if c["type"] == "ExpiringSoon")
    assert soon["status"] == "True"


def test_an_unreachable_member_is_not_ready_and_a_missing_base_says_so() -> None:
    w = world([domain()], [binding("dev")], [member()])
    assert sandbox_status(sandbox(), w, {"dev": report(ok=False)}, SETTINGS, START).phase == "Provisioning"
    orphan = sandbox_status(sandbox(), world([domain()], [], [member()]), {}, SETTINGS, START).to_wire()
    assert ready(orphan)["reason"] == "BaseEnvironmentNotFound"
