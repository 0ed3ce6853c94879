"""What a pass reports its budgeted domains' namespaces hold (sync/kept.py): also those it creates."""

from __future__ import annotations

from bizdomain.decide import decide
from bizdomain.plan import plan_cluster
from bizdomain.sync.kept import kept_on_member, quota_figures
from unit import factories
from unit.factories import SETTINGS
from unit.plan.test_budget import QUOTA, bound, budgeted


def test_a_pass_reports_the_namespaces_it_creates_with_the_quota_it_applies() -> None:
    member = factories.member("dev0")
    plan = plan_cluster(member, factories.world([budgeted()], [bound()], [member]), SETTINGS)
    decision = decide(plan, {}, {}, SETTINGS)  # an empty member: every namespace is created now
    figures = quota_figures(decision, {"pay": {"hard": {"pods": "1"}, "used": {"pods": "1"}}})
    assert figures["pay"] == {"hard": QUOTA, "used": {"pods": "1"}}, "the quota this pass applies, the use counted"
    kept = kept_on_member(decision, {}, figures, SETTINGS)[("payments", "dev")]
    assert [(k.cluster, k.namespace, dict(k.hard), k.released) for k in kept] == [
        ("dev0", "pay", QUOTA, False),
        ("dev0", "pay-batch", QUOTA, False),
    ]


def test_an_unbudgeted_world_reports_nothing() -> None:
    member = factories.member("dev0")
    domain = factories.domain("payments", factories.domain_spec_dict())
    plan = plan_cluster(member, factories.world([domain], [bound()], [member]), SETTINGS)
    assert kept_on_member(decide(plan, {}, {}, SETTINGS), {}, {}, SETTINGS) == {}
