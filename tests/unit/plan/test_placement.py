"""place: every binding's selection recorded once per World, agreeing with plan_cluster's rule."""

from __future__ import annotations

from typing import Any

from bizdomain.plan import BindingRecord, Selection, place, plan_cluster
from unit import factories
from unit.factories import SETTINGS


def bound(environment: str = "dev", domain: str = "payments", **fields: Any) -> BindingRecord:
    return factories.binding(environment, factories.binding_spec_dict(environment, **fields), domain=domain)


def test_place_records_selected_unknown_and_foreign_clusters() -> None:
    binding = bound("dev", clusters={"names": ["prod", "dev", "nowhere"]})
    world = factories.world(
        [factories.domain()], [binding], [factories.member("prod", ("prod",)), factories.member("dev")]
    )
    assert place(world).of(binding) == Selection(clusters=("dev",), unknown=("nowhere",), foreign=("prod",))


def test_a_binding_the_world_does_not_hold_selects_nothing() -> None:
    assert place(factories.world()).of(bound("dev")) == Selection()


def test_placement_agrees_with_what_each_cluster_plans() -> None:
    dev, prod = bound("dev"), bound("prod")
    members = [
        factories.member("a", ("dev",)),
        factories.member("b", ("dev", "prod")),
        factories.member("c", ("prod",)),
    ]
    world = factories.world([factories.domain()], [dev, prod], members)
    placement = place(world)
    for binding in (dev, prod):
        planned = [
            m.name
            for m in members
            if binding.spec and any(t.binding == binding.key for t in plan_cluster(m, world, SETTINGS).tenants.values())
        ]
        assert list(placement.of(binding).clusters) == planned
