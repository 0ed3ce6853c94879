"""Settings: read from BIZDOMAIN_* variables, safe defaults, allow-lists and protected namespaces."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bizdomain.config import DEFAULT_PROTECTED_NAMESPACES, Settings


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.namespace == "bizdomain-system"
    assert settings.domain_namespace_prefix == "domain-"
    assert settings.allowed_cluster_roles == ()
    assert settings.protected_namespaces == DEFAULT_PROTECTED_NAMESPACES
    assert settings.protected_environments == ("prod",)
    assert settings.resync_seconds == 60.0


def test_scalars_are_read_and_converted() -> None:
    settings = Settings.from_env(
        {
            "BIZDOMAIN_NAMESPACE": "platform",
            "BIZDOMAIN_DOMAIN_NAMESPACE_PREFIX": "bd-",
            "BIZDOMAIN_RESYNC_SECONDS": "15",
            "BIZDOMAIN_RELIST_SECONDS": "2.5",
            "BIZDOMAIN_REQUEST_TIMEOUT_SECONDS": "3",
            "BIZDOMAIN_MEMBER_CONCURRENCY": "4",
            "BIZDOMAIN_DELETION_GRACE_SECONDS": "0",
            "BIZDOMAIN_DEBOUNCE_SECONDS": "0.05",
        }
    )
    assert settings.namespace == "platform"
    assert settings.domain_namespace_prefix == "bd-"
    assert settings.resync_seconds == 15.0
    assert settings.relist_seconds == 2.5
    assert settings.request_timeout_seconds == 3.0
    assert settings.member_concurrency == 4
    assert settings.deletion_grace_seconds == 0.0
    assert settings.debounce_seconds == 0.05


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("monitoring-reader", ("monitoring-reader",)),
        ("a,b", ("a", "b")),
        (" a , b ,, ", ("a", "b")),
        ("", ()),
    ],
)
def test_lists_are_comma_separated(value: str, expected: tuple[str, ...]) -> None:
    settings = Settings.from_env(
        {
            "BIZDOMAIN_ALLOWED_CLUSTER_ROLES": value,
            "BIZDOMAIN_PROTECTED_NAMESPACES": value,
            "BIZDOMAIN_PROTECTED_ENVIRONMENTS": value,
        }
    )
    assert settings.allowed_cluster_roles == expected
    assert settings.protected_namespaces == expected
    assert settings.protected_environments == expected


def test_unknown_and_unprefixed_variables_are_ignored() -> None:
    settings = Settings.from_env({"BIZDOMAIN_COLOUR": "blue", "NAMESPACE": "elsewhere", "HOME": "/root"})
    assert settings == Settings()


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIZDOMAIN_NAMESPACE", "from-environ")
    assert Settings.from_env().namespace == "from-environ"


@pytest.mark.parametrize(
    "roles", ["cluster-admin", "monitoring-reader,cluster-admin", " cluster-admin "], ids=["alone", "in-list", "spaced"]
)
def test_cluster_admin_is_refused_in_allowed_cluster_roles(roles: str) -> None:
    with pytest.raises(ValidationError, match="cluster-admin can never be allow-listed"):
        Settings.from_env({"BIZDOMAIN_ALLOWED_CLUSTER_ROLES": roles})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BIZDOMAIN_RESYNC_SECONDS", "0"),
        ("BIZDOMAIN_RESYNC_SECONDS", "soon"),
        ("BIZDOMAIN_RELIST_SECONDS", "-1"),
        ("BIZDOMAIN_MEMBER_CONCURRENCY", "0"),
        ("BIZDOMAIN_MEMBER_CONCURRENCY", "1.5"),
        ("BIZDOMAIN_DELETION_GRACE_SECONDS", "-5"),
    ],
)
def test_bad_values_are_refused(variable: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({variable: value})


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().namespace = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "protected"),
    [
        ("kube-system", True),
        ("kube-public", True),
        ("kube-node-lease", True),
        ("kube-anything", True),
        ("default", True),
        ("bizdomain-system", True),
        ("payments", False),
        ("kubernetes", False),
        ("defaults", False),
        ("my-kube-system", False),
    ],
)
def test_is_protected_namespace_with_defaults(name: str, protected: bool) -> None:
    assert Settings().is_protected_namespace(name) is protected


def test_configured_protected_namespaces_add_to_the_fixed_ones() -> None:
    settings = Settings.from_env({"BIZDOMAIN_PROTECTED_NAMESPACES": "vault,cert-manager", "BIZDOMAIN_NAMESPACE": "ops"})
    for name in ("vault", "cert-manager", "ops", "default", "kube-system", "kube-x"):
        assert settings.is_protected_namespace(name), name
    assert not settings.is_protected_namespace("bizdomain-system")


def test_domain_namespace() -> None:
    assert Settings().domain_namespace("payments") == "domain-payments"
    assert Settings(domain_namespace_prefix="bd-").domain_namespace("payments") == "bd-payments"
