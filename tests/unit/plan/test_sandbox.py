"""The pure sandbox rules: names that never collide, who may make them, what they get, the budget."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bizdomain.api import EnvironmentBindingSpec
from bizdomain.api.sandbox import SandboxSpec, sandbox_namespace, ttl_seconds
from bizdomain.config import Settings
from bizdomain.decide import decide
from bizdomain.plan import plan_cluster
from bizdomain.plan.host import desired_host
from bizdomain.plan.inputs import SandboxRecord, World
from bizdomain.plan.sandbox import desired_sandbox
from bizdomain.plan.sandbox_host import sandbox_annotations, sandboxers
from bizdomain.plan.sandbox_lifetime import expiring_at, expiry, phase

from ..factories import SETTINGS, binding, binding_spec_dict, domain, domain_spec_dict, member, world

CREATED = "2026-01-01T00:00:00Z"


def sandbox(name: str = "feature-x", *, owner: str = "alice@example.com", **spec: Any) -> SandboxRecord:
    parsed = SandboxSpec.model_validate({"environment": "dev", "owner": owner, **spec})
    return SandboxRecord(
        namespace="domain-payments", name=name, uid=f"uid-sbx-{name}", generation=1, created=CREATED, spec=parsed
    )


def with_sandboxes(base: World, *sandboxes: SandboxRecord) -> World:
    return dataclasses.replace(base, sandboxes={s.key: s for s in sandboxes})


# ---- names -------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z]([a-z0-9]|-[a-z0-9]){0,8}", fullmatch=True)


@given(domain_=_label, project=_label, environment=_label, template=st.sampled_from(
    ["{project}", "{project}-{environment}", "{domain}-{project}", "{environment}-{domain}-{project}"]
))  # fmt: skip
def test_a_baseline_namespace_never_holds_the_sandbox_separator(
    domain_: str, project: str, environment: str, template: str
) -> None:
    spec = EnvironmentBindingSpec.model_validate({"environment": environment, "namespaceTemplate": template})
    assert "--" not in spec.namespace_for(domain_, project)


@pytest.mark.parametrize("template", ["{project}--{environment}", "{project}--", "x--{project}"])
def test_a_template_with_the_separator_is_refused(template: str) -> None:
    with pytest.raises(ValidationError):
        EnvironmentBindingSpec.model_validate({"environment": "dev", "namespaceTemplate": template})


def test_an_environment_with_the_separator_is_refused() -> None:
    with pytest.raises(ValidationError):
        EnvironmentBindingSpec.model_validate({"environment": "dev--x"})


@given(project=_label, sandbox_=_label)
def test_project_and_sandbox_are_read_back_from_the_namespace(project: str, sandbox_: str) -> None:
    assert sandbox_namespace(project, sandbox_).split("--") == [project, sandbox_]


def test_ttl_and_expiry() -> None:
    assert ttl_seconds("24h") == 86400
    assert ttl_seconds("90m") == 5400
    record = sandbox(ttl="10h")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert expiry(record) == start + datetime.timedelta(hours=10)
    assert expiring_at(record) == start + datetime.timedelta(hours=8)
    assert phase(record, True, start + datetime.timedelta(hours=7)) == "Ready"
    assert phase(record, True, start + datetime.timedelta(hours=9)) == "Expiring"
    assert phase(record, False, start) == "Provisioning"
    assert phase(dataclasses.replace(record, deleting=True), True, start) == "Deleting"


# ---- who may make them -------------------------------------------------------------------


def test_settings_never_allow_sandboxes_in_a_protected_environment() -> None:
    settings = Settings(sandbox_environments=("dev", "prod"), protected_environments=("prod", "dev"))
    assert not settings.sandbox_allowed("prod")
    assert not settings.sandbox_allowed("dev")
    d = domain()
    assert sandboxers(d, world([d], [binding("dev"), binding("prod")], [member()]), settings) == {}


def test_developers_and_admins_of_an_allowed_environment_are_listed() -> None:
    d = domain(spec=None)
    access = [
        {"department": "backend", "role": "developer"},
        {"department": "sre", "role": "viewer"},
    ]
    w = world([d], [binding("dev", {"environment": "dev", "access": access}), binding("prod")], [member()])
    entitled = sandboxers(d, w, SETTINGS)
    assert list(entitled) == ["dev"]  # prod is never allowed
    annotations = sandbox_annotations(entitled, SETTINGS)
    assert annotations["sandboxers.bizdomain.io/dev"] == "Group:payments-backend"
    assert annotations["sandbox.bizdomain.io/max-lifetime-seconds"] == str(168 * 3600)


def test_the_host_plan_binds_them_and_caps_the_count() -> None:
    d = domain()
    w = world([d], [binding("dev")], [member()])
    plan = desired_host(w, SETTINGS)
    rb = next(x for x in plan.apply if x.name == "bizdomain.io:sandboxers")
    assert rb.body["roleRef"]["name"] == "bizdomain.io:sandbox-creator"
    assert {s["name"] for s in rb.body["subjects"]} == {"payments-backend", "sre"}
    quota = next(x for x in plan.apply if x.kind == "ResourceQuota")
    assert quota.body["spec"]["hard"]["count/sandboxes.bizdomain.io"] == "5"


# ---- what a sandbox gets -----------------------------------------------------------------


def test_its_namespaces_carry_base_rights_the_owner_as_admin_and_the_sandbox_uid() -> None:
    d, b = domain(), binding("dev", {**binding_spec_dict("dev"), "deployers": [_deployer()]})
    tenant = desired_sandbox(d, b, sandbox(), SETTINGS)
    assert tenant.key == ("payments", "dev--feature-x")
    assert tenant.namespaces == ["payments--feature-x"]
    assert tenant.deletion_policy == "Delete"
    assert not tenant.frozen
    ns = next(c for c in tenant.children if c.kind == "Namespace").body
    assert ns["metadata"]["labels"]["bizdomain.io/sandbox-uid"] == "uid-sbx-feature-x"
    assert ns["metadata"]["labels"]["bizdomain.io/environment"] == "dev--feature-x"
    assert ns["metadata"]["annotations"]["bizdomain.io/deletion-policy"] == "Delete"
    grants = {name: grant[0] for name, grant in tenant.grants.items()}
    assert grants == {
        "bizdomain.io:department:backend:developer": "bizdomain.io:developer",
        "bizdomain.io:department:sre:admin": "bizdomain.io:admin",
        "bizdomain.io:deployers": "bizdomain.io:deployer",
        "bizdomain.io:sandbox-owner:admin": "bizdomain.io:admin",
    }
    quota = next(c for c in tenant.children if c.kind == "ResourceQuota").body
    assert quota["spec"]["hard"] == SETTINGS.sandbox_quota_profile()


def test_a_system_owner_is_never_granted_anything() -> None:
    tenant = desired_sandbox(domain(), binding("dev"), sandbox(owner="system:admin"), SETTINGS)
    assert "bizdomain.io:sandbox-owner:admin" not in tenant.grants


def test_a_sandbox_in_a_not_allowed_environment_is_frozen() -> None:
    record = dataclasses.replace(sandbox(), spec=SandboxSpec.model_validate({"environment": "prod", "owner": "a"}))
    tenant = desired_sandbox(domain(), binding("prod"), record, SETTINGS)
    assert tenant.frozen
    assert tenant.problems[0].reason == "SandboxNotAllowed"


def test_over_budget_is_frozen_and_the_baseline_is_never_squeezed() -> None:
    budget = [{"environment": "dev", "hard": {"requests.cpu": "5", "pods": "100"}}]
    d = domain(spec={**domain_spec_dict(), "quota": {"requests.cpu": "4", "pods": "10"}, "budgets": budget})
    small = sandbox("small", quota={"requests.cpu": "1", "pods": "5"})
    big = dataclasses.replace(sandbox("big", quota={"requests.cpu": "1", "pods": "5"}), created="2026-01-02T00:00:00Z")
    w = with_sandboxes(world([d], [binding("dev")], [member()]), small, big)
    plan = plan_cluster(member(), w, SETTINGS)
    assert not plan.tenants[("payments", "dev")].frozen
    assert not plan.tenants[("payments", "dev--small")].frozen
    frozen = plan.tenants[("payments", "dev--big")]
    assert frozen.frozen
    assert frozen.problems[-1].reason == "BudgetExceeded"
    decision = decide(plan, {}, {}, SETTINGS)
    created = {a.desired.name for a in decision.applies if a.create}
    assert "payments--small" in created
    assert "payments--big" not in created


def test_expiry_prunes_exactly_its_namespaces() -> None:
    """Once the sandbox is gone, its namespace (recorded Delete) is deleted; a look-alike is not."""
    d, b = domain(), binding("dev")
    w = with_sandboxes(world([d], [b], [member()]), sandbox())
    live_plan = plan_cluster(member(), w, SETTINGS)
    mine = next(c for c in live_plan.tenants[("payments", "dev--feature-x")].children if c.kind == "Namespace").body
    baseline = next(c for c in live_plan.tenants[("payments", "dev")].children if c.kind == "Namespace").body
    forged = {**mine, "metadata": {**mine["metadata"], "name": "payments--forged"}}
    forged["metadata"]["annotations"] = {**mine["metadata"]["annotations"], "bizdomain.io/domain-uid": "someone-else"}
    namespaces = {o["metadata"]["name"]: o for o in (mine, baseline, forged)}
    live: dict[tuple[str, str | None, str], dict[str, Any]] = {
        (o["kind"], None, o["metadata"]["name"]): o for o in namespaces.values()
    }
    gone = plan_cluster(member(), world([d], [b], [member()]), SETTINGS)
    decision = decide(gone, namespaces, live, SETTINGS)
    pruned = {(p.key[2], p.release) for p in decision.prunes}
    assert pruned == {("payments--feature-x", False)}


def _deployer() -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
