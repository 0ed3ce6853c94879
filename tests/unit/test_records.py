"""Records from kopf bodies: a spec is parsed once per change (SpecCache); events that matter (ChangeFilter)."""

from __future__ import annotations

import copy
import gc
import weakref
from typing import Any

from bizdomain.plan import TenantMemo, World, plan_cluster
from bizdomain.records import ChangeFilter, SpecCache, binding_record, domain_record, member_record
from unit import factories
from unit.factories import SETTINGS


def _body(kind_doc: dict[str, Any], uid: str, generation: int = 1, status: dict[str, Any] | None = None) -> Any:
    body = copy.deepcopy(kind_doc)
    body["metadata"].update(uid=uid, generation=generation, creationTimestamp="2026-11-26T10:00:00Z")
    body["status"] = status or {}
    return body


DOMAIN = {"metadata": {"name": "pay"}, "spec": factories.domain_spec_dict()}
BINDING = {"metadata": {"name": "dev", "namespace": "domain-pay"}, "spec": factories.binding_spec_dict("dev")}


def test_a_status_write_keeps_the_parsed_spec() -> None:
    specs = SpecCache()
    first = binding_record(_body(BINDING, "u-1"), specs)
    again = binding_record(_body(BINDING, "u-1", status={"observedGeneration": 1}), specs)
    assert again.spec is first.spec
    assert again.status == {"observedGeneration": 1}


def test_a_changed_spec_is_parsed_again() -> None:
    specs = SpecCache()
    first = domain_record(_body(DOMAIN, "u-2"), specs)
    changed = copy.deepcopy(DOMAIN)
    changed["spec"]["displayName"] = "Payments, renamed"
    second = domain_record(_body(changed, "u-2", generation=2), specs)
    assert second.spec is not first.spec
    assert second.spec is not None
    assert second.spec.display_name == "Payments, renamed"


def test_objects_without_uid_are_never_shared() -> None:
    body, specs = _body(BINDING, ""), SpecCache()
    assert binding_record(body, specs).spec is not binding_record(body, specs).spec
    assert len(specs) == 0


def test_an_invalid_spec_keeps_its_error_through_status_writes() -> None:
    broken = copy.deepcopy(BINDING)
    broken["spec"]["environment"] = "Not A Label"
    specs = SpecCache()
    first = binding_record(_body(broken, "u-3"), specs)
    again = binding_record(_body(broken, "u-3", status={"observedGeneration": 1}), specs)
    assert first.spec is None
    assert again.spec is None
    assert first.error
    assert again.error == first.error


def _member() -> Any:
    spec = {"environments": ["dev"], "kubeconfigSecretRef": {"name": "k"}}
    return member_record(_body({"metadata": {"name": "dev"}, "spec": spec}, "m"))


def test_the_plan_of_a_tenant_survives_status_writes() -> None:
    member, specs, memo = _member(), SpecCache(), TenantMemo()
    domain = domain_record(_body(DOMAIN, "u-4"), specs)
    binding = binding_record(_body(BINDING, "u-5"), specs)
    world = World({"pay": domain}, {binding.key: binding}, {"dev": member})
    before = plan_cluster(member, world, SETTINGS, memo=memo)
    written = binding_record(_body(BINDING, "u-5", status={"observedGeneration": 1}), specs)
    after = plan_cluster(member, World({"pay": domain}, {written.key: written}, {"dev": member}), SETTINGS, memo=memo)
    [old], [new] = before.tenants.values(), after.tenants.values()
    assert old.children
    assert all(a is b for a, b in zip(old.children, new.children, strict=True)), "the tenant was planned again"


def test_the_memo_keeps_no_record_the_host_replaced() -> None:
    # Each status write rebuilds a record: the memo holds the newest, never the first (and its status).
    member, specs, memo = _member(), SpecCache(), TenantMemo()
    domain = domain_record(_body(DOMAIN, "u-9"), specs)
    first = binding_record(_body(BINDING, "u-10"), specs)
    plan_cluster(member, World({"pay": domain}, {first.key: first}, {"dev": member}), SETTINGS, memo=memo)
    gone = weakref.ref(first)
    written = binding_record(_body(BINDING, "u-10", status={"observedGeneration": 1, "big": "x" * 1000}), specs)
    plan_cluster(member, World({"pay": domain}, {written.key: written}, {"dev": member}), SETTINGS, memo=memo)
    del first
    gc.collect()
    assert gone() is None, "the memo still holds the record the host replaced"


def test_the_memo_holds_on_its_own_without_the_spec_cache() -> None:
    # Parsed afresh (no SpecCache): equal specs, different objects. The memo compares them by value.
    member, memo = _member(), TenantMemo()
    domain = domain_record(_body(DOMAIN, "u-6"))
    first, second = binding_record(_body(BINDING, "u-7")), binding_record(_body(BINDING, "u-7"))
    assert first.spec is not second.spec
    before = plan_cluster(member, World({"pay": domain}, {first.key: first}, {"dev": member}), SETTINGS, memo=memo)
    after = plan_cluster(member, World({"pay": domain}, {second.key: second}, {"dev": member}), SETTINGS, memo=memo)
    assert next(iter(before.tenants.values())) is next(iter(after.tenants.values()))


def test_the_memo_is_never_fooled_by_a_reused_generation() -> None:
    # Same uid and generation, another spec (a re-created object, a cache gone wrong): planned again.
    member, memo = _member(), TenantMemo()
    domain = domain_record(_body(DOMAIN, "u-8"))
    changed = copy.deepcopy(BINDING)
    changed["spec"]["namespaceTemplate"] = "{project}-{environment}"
    first, second = binding_record(_body(BINDING, "u-9")), binding_record(_body(changed, "u-9"))
    before = plan_cluster(member, World({"pay": domain}, {first.key: first}, {"dev": member}), SETTINGS, memo=memo)
    after = plan_cluster(member, World({"pay": domain}, {second.key: second}, {"dev": member}), SETTINGS, memo=memo)
    [old], [new] = before.tenants.values(), after.tenants.values()
    assert old.namespaces == ["pay"]
    assert new.namespaces == ["pay-dev"]


def test_the_change_filter_ignores_status_writes_and_sees_spec_labels_deletion() -> None:
    changes = _body(BINDING, "u-10")
    seen = ChangeFilter()
    assert seen.changed("EnvironmentBinding", changes, "ADDED")
    assert not seen.changed("EnvironmentBinding", _body(BINDING, "u-10", status={"observedGeneration": 1}), None)
    assert seen.changed("EnvironmentBinding", _body(BINDING, "u-10", generation=2), "MODIFIED")
    labelled = _body(BINDING, "u-10", generation=2)
    labelled["metadata"]["labels"] = {"team": "x"}
    assert seen.changed("EnvironmentBinding", labelled, "MODIFIED")
    marked = copy.deepcopy(labelled)
    marked["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    assert seen.changed("EnvironmentBinding", marked, "MODIFIED")
    assert not seen.changed("EnvironmentBinding", marked, "MODIFIED")
    assert seen.changed("EnvironmentBinding", marked, "DELETED")
    assert len(seen) == 0
    assert seen.changed("BusinessDomain", _body(DOMAIN, "u-11"), "ADDED"), "kinds are told apart"


def test_the_change_filter_sees_an_object_deleted_and_made_again_when_the_deletion_was_missed() -> None:
    """A watch that reconnects can miss a DELETED event: the same name made again (a new uid, another
    spec, generation 1 again) looked unchanged, so nothing was poked until the next full re-sync."""
    seen = ChangeFilter()
    assert seen.changed("EnvironmentBinding", _body(BINDING, "u-20"), "ADDED")
    assert seen.changed("EnvironmentBinding", _body(BINDING, "u-21"), "ADDED")


def test_the_change_filter_sees_the_platform_adopting_uids() -> None:
    """``bizdomain.io/adopt-uids`` changes what a domain owns without changing its generation."""
    seen = ChangeFilter()
    domain = _body(DOMAIN, "u-30")
    assert seen.changed("BusinessDomain", domain, "ADDED")
    domain["metadata"]["annotations"] = {"bizdomain.io/adopt-uids": "u-old"}
    assert seen.changed("BusinessDomain", domain, "MODIFIED")
    domain["metadata"]["annotations"]["kopf.bizdomain.io/last-handled"] = "x"
    assert not seen.changed("BusinessDomain", domain, "MODIFIED")  # kopf's own annotations are not a change
