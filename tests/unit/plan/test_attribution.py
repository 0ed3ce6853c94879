"""Member objects belong to the tenant of their namespace, whatever their own labels claim."""

from __future__ import annotations

import pytest

from bizdomain.plan.attribution import claimed_tenant, drift_domain, namespaced_tenant_ok


def tenant(domain: str, environment: str, **extra: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "bizdomain",
        "bizdomain.io/component": "tenant",
        "bizdomain.io/domain": domain,
        "bizdomain.io/environment": environment,
        **extra,
    }


RELEASED = {"bizdomain.io/domain": "payments", "bizdomain.io/environment": "dev", "bizdomain.io/released": "true"}


@pytest.mark.parametrize(
    ("labels", "namespace", "ok"),
    [
        pytest.param(tenant("payments", "dev"), tenant("payments", "dev"), True, id="same-tenant"),
        pytest.param(tenant("payments", "dev"), RELEASED, True, id="released-namespace-of-the-same-tenant"),
        pytest.param(tenant("dispatch", "prod"), tenant("payments", "dev"), False, id="forged-other-domain"),
        pytest.param(tenant("payments", "prod"), tenant("payments", "dev"), False, id="forged-other-environment"),
        pytest.param(tenant("payments", "dev"), {"team": "x"}, False, id="inside-someone-elses-namespace"),
        pytest.param(tenant("payments", "dev"), None, False, id="namespace-unknown"),
        pytest.param({"app.kubernetes.io/managed-by": "bizdomain"}, None, True, id="claims-no-tenant"),
        pytest.param({"team": "x"}, tenant("payments", "dev"), True, id="not-ours-at-all"),
    ],
)
def test_a_tenant_object_is_its_namespaces_tenant_or_nobodys(
    labels: dict[str, str], namespace: dict[str, str] | None, ok: bool
) -> None:
    assert namespaced_tenant_ok(labels, namespace) is ok


def test_claimed_tenant_needs_every_tenant_label() -> None:
    assert claimed_tenant(tenant("payments", "dev")) == ("payments", "dev")
    assert claimed_tenant({**tenant("payments", "dev"), "bizdomain.io/component": "platform"}) is None
    assert claimed_tenant({k: v for k, v in tenant("payments", "dev").items() if "environment" not in k}) is None


def test_a_hand_edit_is_the_namespaces_domains_business() -> None:
    assert drift_domain(tenant("dispatch", "prod"), tenant("payments", "dev")) == "payments"
    assert drift_domain(tenant("payments", "dev"), None) == "payments"
