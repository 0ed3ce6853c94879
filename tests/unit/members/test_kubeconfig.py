"""Credentials from kubeconfigs and the service account: the forms the operator meets, and clear errors."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import tempfile
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from bizdomain.config import Settings
from bizdomain.members import Kube, MemberClients
from bizdomain.members.clients import kube_from_kubeconfig
from bizdomain.members.kubeconfig import (
    Credentials,
    CredentialsError,
    from_kubeconfig,
    host_credentials,
    in_cluster,
    refuse_unsafe,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def bearer(credentials: Credentials) -> str | None:
    """The credentials' bearer token now (read, or refreshed, as the client would)."""

    async def read() -> str | None:
        return await credentials.token()

    return asyncio.run(read())


def kubeconfig(cluster: dict[str, Any], user: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
        **extra,
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed certificate and its key (openssl), standing in for a CA and a client."""
    root = tmp_path_factory.mktemp("pki")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"), "-days", "1", "-subj", "/CN=test"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return {"cert": (root / "cert.pem").read_text(), "key": (root / "key.pem").read_text(), "dir": str(root)}


def test_token_and_inline_ca(pki: dict[str, str]) -> None:
    config = kubeconfig(
        {"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(pki["cert"])}, {"token": "abc"}
    )
    credentials = asyncio.run(from_kubeconfig(config))
    assert credentials.server == "https://127.0.0.1:6443"
    assert credentials.ca_pem == pki["cert"]
    assert bearer(credentials) == "abc"
    context = credentials.ssl_context()
    assert context is not None
    assert context.check_hostname


def test_client_certificate_files_resolve_against_the_kubeconfig(pki: dict[str, str]) -> None:
    config = kubeconfig(
        {"server": "https://127.0.0.1:6443", "certificate-authority": "cert.pem", "tls-server-name": "api.local"},
        {"client-certificate": "cert.pem", "client-key": "key.pem"},
    )
    credentials = asyncio.run(from_kubeconfig(config, base=Path(pki["dir"])))
    assert credentials.cert_pem == pki["cert"]
    assert credentials.key_pem == pki["key"]
    assert credentials.tls_server_name == "api.local"
    assert bearer(credentials) is None
    assert credentials.ssl_context() is not None  # the chain loads


def test_insecure_and_plain_http() -> None:
    insecure = asyncio.run(from_kubeconfig(kubeconfig({"server": "https://h:1", "insecure-skip-tls-verify": True}, {})))
    context = insecure.ssl_context()
    assert context is not None
    assert not context.check_hostname
    plain = asyncio.run(from_kubeconfig(kubeconfig({"server": "http://127.0.0.1:8080"}, {})))
    assert plain.ssl_context() is None


def test_token_file_is_read_again_after_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    credentials = asyncio.run(
        from_kubeconfig(kubeconfig({"server": "https://h:1"}, {"tokenFile": "token"}), base=tmp_path)
    )
    assert bearer(credentials) == "one"
    token.write_text("two")
    assert bearer(credentials) == "one"  # cached
    monkeypatch.setattr("bizdomain.members.kubeconfig.TOKEN_RELOAD_SECONDS", -1.0)  # a minute later
    assert bearer(credentials) == "two"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "no clusters or contexts"),
        ("not a mapping", "no clusters or contexts"),
        (kubeconfig({"server": "https://h:1"}, {}, **{"current-context": "other"}), "no context named 'other'"),
        (kubeconfig({"server": "ftp://h"}, {}), "no https:// server"),
        (kubeconfig({"server": "https://h:1", "certificate-authority-data": "%%%"}, {}), "CA is not valid base64"),
        (kubeconfig({"server": "https://h:1", "certificate-authority": "/nonexistent/ca"}, {}), "CA file cannot"),
        (kubeconfig({"server": "https://h:1", "proxy-url": "http://p:3128"}, {}), "proxy-url is not supported"),
    ],
)
def test_unusable_kubeconfigs_say_why_not_what(config: Any, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        asyncio.run(from_kubeconfig(config))


def test_a_bad_ca_is_a_credentials_error() -> None:
    config = kubeconfig({"server": "https://h:1", "certificate-authority-data": b64("not a certificate")}, {})
    credentials = asyncio.run(from_kubeconfig(config))
    with pytest.raises(CredentialsError, match="CA certificate cannot be loaded"):
        credentials.ssl_context()


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: dict[str, str]) -> None:
    (tmp_path / "ca.crt").write_text(pki["cert"])
    (tmp_path / "token").write_text("sa-token")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    credentials = in_cluster(tmp_path)
    assert credentials.server == "https://[fd00::1]:443"
    assert credentials.ca_pem == pki["cert"]
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(CredentialsError, match="not in a cluster"):
        in_cluster(tmp_path)


def test_kubeconfig_list_merges_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "config").write_text(
        yaml.safe_dump({"current-context": "ctx", "users": [{"name": "u", "user": {"tokenFile": "t"}}]})
    )
    (first / "t").write_text("from-first")
    (second / "config").write_text(
        yaml.safe_dump(kubeconfig({"server": "https://second:1"}, {"token": "ignored"}, **{"current-context": "other"}))
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", f"{first / 'config'}:{tmp_path / 'missing'}:{second / 'config'}")
    credentials = asyncio.run(host_credentials())
    assert credentials.server == "https://second:1"
    assert bearer(credentials) == "from-first"  # first file's user, its relative path from its own directory


# ---- a member's Secret: no plugin, no local file, no clear text ------------------------------------------------

SAFE_CLUSTER = {"server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0E="}
REFUSED = [
    pytest.param(SAFE_CLUSTER, {"exec": {"command": "touch", "args": ["/tmp/x"]}}, "'exec'", id="exec"),
    pytest.param(SAFE_CLUSTER, {"auth-provider": {"name": "oidc"}}, "'auth-provider'", id="auth-provider"),
    pytest.param(SAFE_CLUSTER, {"tokenFile": "/etc/shadow"}, "'tokenFile'", id="token-file"),
    pytest.param(SAFE_CLUSTER, {"client-certificate": "/c", "client-key": "/k"}, "'client-certificate'", id="cert"),
    pytest.param(SAFE_CLUSTER, {"client-key": "/k"}, "'client-key'", id="key"),
    pytest.param({"server": "https://h", "certificate-authority": "/ca"}, {"token": "t"}, "'certificate-authority'",
                 id="ca-file"),
    pytest.param({"server": "http://127.0.0.1:8080"}, {"token": "t"}, "http:// server", id="http"),
]  # fmt: skip


@pytest.mark.parametrize(("cluster", "user", "named"), REFUSED)
def test_unsafe_member_kubeconfigs_are_refused_before_anything_runs(
    cluster: dict[str, Any], user: dict[str, Any], named: str, tmp_path: Path
) -> None:

    marker = tmp_path / "ran"
    if "exec" in user:
        user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "touch", "args": [str(marker)]}}
    config = kubeconfig(cluster, user)
    with pytest.raises(CredentialsError, match=named) as info:
        refuse_unsafe(config)
    assert "BIZDOMAIN_ALLOW_UNSAFE_KUBECONFIGS" in str(info.value)
    with pytest.raises(CredentialsError, match=named):
        asyncio.run(kube_from_kubeconfig(yaml.safe_dump(config), "m", Settings(), safe_only=True))
    assert not marker.exists()


def test_an_unused_unsafe_user_is_refused_too() -> None:

    config = kubeconfig(SAFE_CLUSTER, {"token": "t"})
    config["users"].append({"name": "other", "user": {"exec": {"command": "sh"}}})
    with pytest.raises(CredentialsError, match="user 'other' names 'exec'"):
        refuse_unsafe(config)


@pytest.mark.parametrize(
    "user", [{"token": "t"}, {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}], ids=["token", "data"]
)
def test_inline_credentials_over_https_pass(user: dict[str, Any]) -> None:

    refuse_unsafe(kubeconfig(SAFE_CLUSTER, user))  # no error


def test_the_platform_may_opt_in_to_unsafe_kubeconfigs() -> None:

    assert not Settings().allow_unsafe_kubeconfigs
    assert Settings.from_env({"BIZDOMAIN_ALLOW_UNSAFE_KUBECONFIGS": "true"}).allow_unsafe_kubeconfigs


def test_member_clients_leave_no_key_directory_unless_a_plugin_may_run(
    pki: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each operator made a private key directory at start and removed it only on a clean stop: a
    killed one (tests kill hundreds) left it in /tmp. A client certificate needs none that outlives it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = kubeconfig(
        {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(pki["cert"])},
        {"client-certificate-data": b64(pki["cert"]), "client-key-data": b64(pki["key"])},
    )

    async def connect() -> MemberClients:
        clients = MemberClients(cast(Kube, None), Settings())
        await (await clients._client(yaml.safe_dump(config), "dev")).close()
        return clients

    clients = asyncio.run(connect())
    assert list(tmp_path.iterdir()) == [], "the key files were written, loaded and removed at once"
    asyncio.run(clients.close())
