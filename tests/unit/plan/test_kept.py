"""Released namespaces keep their quota, and the budget counts it (plan/kept.py, the rule in plan_cluster).

The attacker first: a domain owner who renames its namespaces (or deletes and re-creates its
binding) under ``Retain`` leaves the old ones released with their quota and workloads; were they
not counted, each rename would hand the domain its whole budget again.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from bizdomain import names
from bizdomain.plan import DomainRecord, plan_cluster
from bizdomain.plan.budget import Share
from bizdomain.plan.kept import Kept, describe, kept_quotas, merge_kept, released_source
from unit import factories
from unit.factories import SETTINGS
from unit.plan.test_budget import QUOTA, bound, budgeted, reasons

FULL = {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}  # each of 2 projects: the budget is full


def kept(namespace: str, *, cluster: str = "dev0", hard: dict[str, str] | None = None, **flags: bool) -> Kept:
    values = hard or QUOTA
    return Kept(cluster, namespace, values, {}, flags.get("released", True), flags.get("protected", False))


def judged(domain: DomainRecord, binding: Any, held: tuple[Kept, ...]) -> Any:
    members = [factories.member("dev0")]
    world = replace(factories.world([domain], [binding], members), kept={("payments", "dev"): held})
    return plan_cluster(members[0], world, SETTINGS).tenants[("payments", "dev")]


# --- the attacker: rename, release, repeat ------------------------------------------------------------


def test_a_rename_under_retain_cannot_hold_the_budget_twice() -> None:
    domain = budgeted(quota=FULL)
    renamed = bound(namespaceTemplate="{project}-{environment}")  # the old names were pay, pay-batch
    old = (kept("pay", released=False, hard=FULL), kept("pay-batch", released=False, hard=FULL))
    tenant = judged(domain, renamed, old)
    assert tenant.frozen
    message = " ".join(p.message for p in tenant.problems if p.reason == names.Reason.BUDGET_EXCEEDED)
    assert "beside 8 held by the quotas released namespaces keep (pay on dev0, pay-batch on dev0)" in message


def test_namespaces_already_released_hold_their_room_until_a_platform_admin_deletes_them() -> None:
    tenant = judged(budgeted(quota=FULL), bound(), (kept("old-pay"),))
    assert tenant.frozen
    assert names.Reason.BUDGET_EXCEEDED in reasons(tenant)
    assert not judged(budgeted(quota=FULL), bound(), ()).frozen


def test_a_released_namespace_the_plan_places_again_is_counted_once() -> None:
    # Reverting the rename takes the released namespaces back: they are the plan's again.
    tenant = judged(budgeted(quota=FULL), bound(), (kept("pay", hard=FULL), kept("pay-batch", hard=FULL)))
    assert not tenant.frozen, tenant.problems


def test_under_delete_a_namespace_outside_the_plan_goes_with_its_quota() -> None:
    domain = budgeted(quota=FULL, deletionPolicy="Delete")
    assert not judged(domain, bound(), (kept("old", released=False),)).frozen
    # ... unless it is protected (never deleted: released), or already released
    assert judged(domain, bound(), (kept("old", released=False, protected=True),)).frozen
    assert judged(domain, bound(), (kept("old", released=True),)).frozen


def test_room_left_beside_what_released_namespaces_hold_lands() -> None:
    tenant = judged(budgeted(), bound(), (kept("old", hard={"requests.cpu": "4", "pods": "20"}),))
    assert not tenant.frozen  # 2 x QUOTA (4 cpu, 20 pods) + 4 cpu, 20 pods = the budget (8, 40)
    assert judged(budgeted(), bound(), (kept("old", hard={"pods": "21"}),)).frozen


# --- what a member pass reports --------------------------------------------------------------------


def namespace(name: str, *, domain: str = "payments", environment: str = "dev", **meta: Any) -> dict[str, Any]:
    labels = {names.LABEL_DOMAIN: domain, names.LABEL_ENVIRONMENT: environment}
    if meta.pop("released", False):
        labels[names.LABEL_RELEASED] = "true"
    else:
        labels[names.LABEL_MANAGED_BY] = names.MANAGED_BY_VALUE
    labels.update(meta.pop("labels", {}))
    annotations = {names.ANNOTATION_DOMAIN_UID: meta.pop("uid", "uid-payments")}
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels, "annotations": annotations, **meta}}


STATUS = {"hard": {"pods": "10"}, "used": {"pods": "3"}}


def report(namespaces: list[dict[str, Any]], *, budgeted: frozenset[str] = frozenset({"payments"}), **kw: Any) -> Any:
    return kept_quotas(
        "dev0",
        {ns["metadata"]["name"]: ns for ns in namespaces},
        {ns["metadata"]["name"]: STATUS for ns in namespaces},
        owners={"payments": ("uid-payments",)},
        budgeted=budgeted,
        protected_member=kw.get("protected_member", False),
        settings=SETTINGS,
    )


def test_a_pass_reports_managed_and_released_namespaces_with_their_quota() -> None:
    out = report([namespace("a"), namespace("b", released=True)])
    assert [(k.namespace, k.released, dict(k.hard), dict(k.used)) for k in out[("payments", "dev")]] == [
        ("a", False, {"pods": "10"}, {"pods": "3"}),
        ("b", True, {"pods": "10"}, {"pods": "3"}),
    ]


def test_a_pass_never_charges_a_domain_for_what_is_not_its_own() -> None:
    assert report([namespace("a", uid="uid-of-an-older-payments")]) == {}  # another incarnation's
    assert report([namespace("a", released=True, uid=None)]) == {}  # released without a uid: nobody's
    assert report([namespace("a", deletionTimestamp="2026-01-01T00:00:00Z")]) == {}  # its quota goes with it
    assert report([namespace("a")], budgeted=frozenset()) == {}  # nothing budgeted: nothing to count


def test_a_sandbox_counts_for_its_base_environment_and_protection_is_recorded() -> None:
    out = report([namespace("a--s1", environment="dev--s1"), namespace("p", environment="prod")])
    assert [k.namespace for k in out[("payments", "dev")]] == ["a--s1"]
    assert out[("payments", "prod")][0].protected  # prod is a protected environment
    assert report([namespace("a")], protected_member=True)[("payments", "dev")][0].protected


def test_members_add_up_and_the_source_names_what_holds_the_room() -> None:
    merged = merge_kept([{("d", "dev"): (kept("a"),)}, None, {("d", "dev"): (kept("b", cluster="dev1"),)}])
    assert [k.namespace for k in merged[("d", "dev")]] == ["a", "b"]
    source = released_source(merged[("d", "dev")], [Share("dev0", "a", QUOTA)], "Retain")
    assert source is not None
    assert [s.namespace for s in source.shares] == ["b"]
    assert source.held == {"requests.cpu": Decimal(2), "requests.memory": Decimal(4 * 2**30), "pods": Decimal(10)}
    placed = [Share("dev0", "a", QUOTA), Share("dev1", "b", QUOTA)]
    assert released_source(merged[("d", "dev")], placed, "Retain") is None
    many = [kept(f"n{i}") for i in range(7)]
    assert describe(many).endswith("n4 on dev0 and 2 more)")
