"""Records from kopf bodies: a spec is parsed once per change, not once per watch event."""

from __future__ import annotations

import copy
from typing import Any

from bizdomain.plan import World, plan_cluster
from bizdomain.records import binding_record, domain_record, member_record
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
    first = binding_record(_body(BINDING, "u-1"))
    again = binding_record(_body(BINDING, "u-1", status={"observedGeneration": 1}))
    assert again.spec is first.spec
    assert again.status == {"observedGeneration": 1}


def test_a_changed_spec_is_parsed_again() -> None:
    first = domain_record(_body(DOMAIN, "u-2"))
    changed = copy.deepcopy(DOMAIN)
    changed["spec"]["displayName"] = "Payments, renamed"
    second = domain_record(_body(changed, "u-2", generation=2))
    assert second.spec is not first.spec
    assert second.spec is not None
    assert second.spec.display_name == "Payments, renamed"


def test_objects_without_uid_are_never_shared() -> None:
    body = _body(BINDING, "")
    assert binding_record(body).spec is not binding_record(body).spec


def test_an_invalid_spec_keeps_its_error_through_status_writes() -> None:
    broken = copy.deepcopy(BINDING)
    broken["spec"]["environment"] = "Not A Label"
    first = binding_record(_body(broken, "u-3"))
    again = binding_record(_body(broken, "u-3", status={"observedGeneration": 1}))
    assert first.spec is None
    assert again.spec is None
    assert first.error
    assert again.error == first.error


def test_the_plan_of_a_tenant_survives_status_writes() -> None:
    member = member_record(
        _body(
            {"metadata": {"name": "dev"}, "spec": {"environments": ["dev"], "kubeconfigSecretRef": {"name": "k"}}}, "m"
        )
    )
    domain = domain_record(_body(DOMAIN, "u-4"))
    binding = binding_record(_body(BINDING, "u-5"))
    before = plan_cluster(member, World({"pay": domain}, {binding.key: binding}, {"dev": member}), SETTINGS)
    written = binding_record(_body(BINDING, "u-5", status={"observedGeneration": 1}))
    after = plan_cluster(member, World({"pay": domain}, {written.key: written}, {"dev": member}), SETTINGS)
    [old], [new] = before.tenants.values(), after.tenants.values()
    assert old.children
    assert all(a is b for a, b in zip(old.children, new.children, strict=True)), "the tenant was planned again"
