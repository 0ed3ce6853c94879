"""The benchmark's generated workload (pure): with ``--budgets`` every domain is budgeted in
every environment, and the plan the operator makes of it lands whole (nothing frozen), also
after the change-latency edits raise one binding's pods; without, nothing is budgeted."""

from __future__ import annotations

import pytest

from bench.workload import Shape, floor_plans, world
from bizdomain.config import Settings
from bizdomain.plan import plan_cluster
from bizdomain.records import binding_record


@pytest.mark.parametrize("budgets", [False, True])
def test_every_tenant_lands_whole(budgets: bool) -> None:
    shape = Shape(4, environments=3, members=2, budgets=budgets)
    plans = floor_plans(shape, Settings())

    tenants = [tenant for plan in plans.values() for tenant in plan.tenants.values()]
    assert len(tenants) == sum(shape.domains * len(shape.member_environments(m)) for m in shape.member_names())
    assert not any(tenant.frozen or tenant.problems for tenant in tenants)
    domain = world(shape).domains[shape.domain_name(0)].spec
    assert domain is not None
    assert all((domain.budget(env) is not None) is budgets for env in shape.environment_names())


def test_change_latency_edits_fit_the_budget() -> None:
    """The benchmark's largest edit (pods 100 + repeats on one binding) still fits."""
    shape = Shape(2, budgets=True)
    snapshot = world(shape)
    edited = binding_record({**shape.binding_doc(1, "dev", quota={"pods": "200"}), "metadata": {
        "name": "dev", "namespace": f"domain-{shape.domain_name(1)}", "uid": "b1-dev", "generation": 2,
        "creationTimestamp": "",
    }})  # fmt: skip
    snapshot.bindings[edited.key] = edited
    plan = plan_cluster(snapshot.members["dev"], snapshot, Settings())
    tenant = plan.tenants[(shape.domain_name(1), "dev")]
    assert not tenant.frozen, tenant.problems
