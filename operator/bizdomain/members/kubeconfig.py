"""Cluster credentials from a kubeconfig or the pod's service account, read without a generated client.

:class:`~bizdomain.members.rest.Kube` (every cluster) and the kopf login handler (the host)
take their server, TLS and token from here. kubernetes_asyncio's own loader imports the
library's generated models, about 40 MiB in every process that loads a kubeconfig; the forms
the operator meets take a page: a member's kubeconfig Secret as ``bizdomain join`` writes it
(token or client certificate, inline CA), the pod's service account, a developer's kubeconfig
with files or data. A kubeconfig whose user needs a plugin (``exec``, ``auth-provider``) goes
to the library's loader, imported only then. A member's Secret is first held to
:func:`refuse_unsafe` (no plugin, no local file, no http://) unless the platform opts out.

Errors say what is wrong with a kubeconfig, never what is in it.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_RELOAD_SECONDS = 60.0  # as client-go: a projected token file is rotated well before it expires

Token = Callable[[], Awaitable[str | None]]


class CredentialsError(Exception):
    """The kubeconfig is missing or unusable; the message is safe to show anywhere."""


@dataclass
class Credentials:
    """How to reach one cluster: where, which TLS, and a bearer token asked for on every request."""

    server: str
    ca_pem: str | None = None  # None: the system's trust store
    insecure: bool = False
    tls_server_name: str | None = None
    cert_pem: str | None = None
    key_pem: str | None = None
    token: Token = field(default_factory=lambda: _none)

    def ssl_context(self, key_dir: str | None = None) -> ssl.SSLContext | None:
        """The TLS context for an https server (None for plain http)."""
        if not self.server.startswith("https://"):
            return None
        try:
            context = ssl.create_default_context(cadata=self.ca_pem) if self.ca_pem else ssl.create_default_context()
        except (ssl.SSLError, ValueError) as exc:
            raise CredentialsError("the CA certificate cannot be loaded") from exc
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_pem and self.key_pem:
            # load_cert_chain reads files only: write them privately, load, remove at once.
            with tempfile.TemporaryDirectory(dir=key_dir, prefix="tls-") as private:
                cert, key = Path(private, "cert.pem"), Path(private, "key.pem")
                for path, text in ((cert, self.cert_pem), (key, self.key_pem)):
                    path.touch(mode=0o600)
                    path.write_text(text)
                try:
                    context.load_cert_chain(cert, key)
                except ssl.SSLError as exc:
                    raise CredentialsError("the client certificate or key cannot be loaded") from exc
        return context


async def _none() -> str | None:
    return None


def _static(token: str) -> Token:
    async def value() -> str | None:
        return token

    return value


class _TokenFile:
    """A token file read again every minute (a projected service-account token rotates)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.value: str | None = None
        self.read_at = 0.0

    async def __call__(self) -> str | None:
        now = time.monotonic()
        if self.value is None or now - self.read_at > TOKEN_RELOAD_SECONDS:
            self.value, self.read_at = _read_token(self.path), now
        return self.value


def _read_token(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise CredentialsError(f"the token file cannot be read ({type(exc).__name__})") from exc


def _pem(data: str | None, path: str | None, base: Path | None, what: str) -> str | None:
    """A PEM block given inline (base64, as kubeconfigs carry it) or as a file path."""
    try:
        if data:
            return base64.b64decode(data, validate=True).decode()
        if path:
            return (base / path if base and not Path(path).is_absolute() else Path(path)).read_text()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialsError(f"the {what} is not valid base64 PEM") from exc
    except OSError as exc:
        raise CredentialsError(f"the {what} file cannot be read ({type(exc).__name__})") from exc
    return None


UNSAFE_CLUSTER_KEYS = ("certificate-authority",)
UNSAFE_USER_KEYS = ("exec", "auth-provider", "client-certificate", "client-key", "tokenFile")


def refuse_unsafe(config: Any) -> None:
    """Refuse a kubeconfig that would run a program, read a local file or send a token in clear text.

    Checked on every cluster and user the kubeconfig holds, before anything is read or run:
    whoever can write a Secret in the operator's namespace must not get code execution or a
    file read inside the operator. The platform may opt out (``allow_unsafe_kubeconfigs``).
    """
    if not isinstance(config, dict):
        return  # from_kubeconfig says what is wrong with it
    problems: list[str] = []
    for section, keys in (("clusters", UNSAFE_CLUSTER_KEYS), ("users", UNSAFE_USER_KEYS)):
        for entry in config.get(section) or []:
            body = entry.get(section[:-1]) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            name = entry.get("name")
            problems += [f"{section[:-1]} {name!r} names {key!r}" for key in keys if body.get(key)]
            if section == "clusters" and str(body.get("server") or "").startswith("http://"):
                problems.append(f"cluster {name!r} has an http:// server (the token would travel in clear text)")
    if problems:
        raise CredentialsError(
            "the kubeconfig is refused: "
            + "; ".join(problems)
            + " (credential plugins and local files are not allowed in a member's kubeconfig Secret; "
            "the platform can allow them with BIZDOMAIN_ALLOW_UNSAFE_KUBECONFIGS=true)"
        )


def _named(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(section[:-1])
            return value if isinstance(value, dict) else {}
    raise CredentialsError(f"the kubeconfig has no {section[:-1]} named {name!r}")


async def from_kubeconfig(config: Any, *, base: Path | None = None, key_dir: str | None = None) -> Credentials:
    """The credentials of a kubeconfig's current context (its first, when none is set)."""
    if not isinstance(config, dict) or not config.get("clusters") or not config.get("contexts"):
        raise CredentialsError("the kubeconfig has no clusters or contexts")
    context_name = config.get("current-context") or (config["contexts"][0] or {}).get("name")
    context = _named(config, "contexts", str(context_name))
    cluster = _named(config, "clusters", str(context.get("cluster")))
    user = _named(config, "users", str(context.get("user"))) if context.get("user") else {}
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise CredentialsError("the kubeconfig's cluster has no https:// server")
    if user.get("exec") or user.get("auth-provider"):
        return await _through_library(config, key_dir)
    if cluster.get("proxy-url"):
        raise CredentialsError("the kubeconfig's proxy-url is not supported: reach the API server directly")
    credentials = Credentials(
        server=server.rstrip("/"),
        ca_pem=_pem(cluster.get("certificate-authority-data"), cluster.get("certificate-authority"), base, "CA"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        cert_pem=_pem(user.get("client-certificate-data"), user.get("client-certificate"), base, "client cert"),
        key_pem=_pem(user.get("client-key-data"), user.get("client-key"), base, "client key"),
    )
    if user.get("token"):
        credentials.token = _static(str(user["token"]))
    elif user.get("tokenFile"):
        token_file = Path(user["tokenFile"])
        credentials.token = _TokenFile(token_file if token_file.is_absolute() or not base else base / token_file)
    return credentials


async def _through_library(config: dict[str, Any], key_dir: str | None) -> Credentials:
    """A kubeconfig that needs a plugin: kubernetes_asyncio's loader runs it (and refreshes its token)."""
    from kubernetes_asyncio.client import Configuration  # noqa: PLC0415  (40 MiB: only when needed)
    from kubernetes_asyncio.config import load_kube_config_from_dict  # noqa: PLC0415
    from kubernetes_asyncio.config.config_exception import ConfigException  # noqa: PLC0415

    configuration = Configuration()
    try:
        await load_kube_config_from_dict(config, client_configuration=configuration, temp_file_path=key_dir)
    except (ConfigException, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise CredentialsError(f"the kubeconfig's credential plugin failed ({type(exc).__name__})") from exc

    async def token() -> str | None:
        bearer = (await configuration.auth_settings()).get("BearerToken") or {}
        value = bearer.get("value")
        return str(value).removeprefix("Bearer ") if value else None

    def read(path: str | None) -> str | None:
        return Path(path).read_text() if path else None

    return Credentials(
        server=str(configuration.host).rstrip("/"),
        ca_pem=read(configuration.ssl_ca_cert),
        insecure=not configuration.verify_ssl,
        tls_server_name=configuration.tls_server_name or None,
        cert_pem=read(configuration.cert_file),
        key_pem=read(configuration.key_file),
        token=token,
    )


def in_cluster(root: Path = SERVICE_ACCOUNT) -> Credentials:
    """The pod's service account: the kubernetes Service from the environment, the mounted CA and token."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise CredentialsError("not in a cluster: KUBERNETES_SERVICE_HOST is not set")
    host = f"[{host}]" if ":" in host else host
    try:
        ca = (root / "ca.crt").read_text()
    except OSError as exc:
        raise CredentialsError(f"the service account's CA cannot be read ({type(exc).__name__})") from exc
    return Credentials(server=f"https://{host}:{port}", ca_pem=ca, token=_TokenFile(root / "token"))


async def host_credentials(key_dir: str | None = None) -> Credentials:
    """The host: the pod's service account in a cluster, else the kubeconfig in KUBECONFIG (or ~/.kube/config)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        return in_cluster()
    return await from_kubeconfig(_kubeconfig_files(), key_dir=key_dir)


def _kubeconfig_files() -> dict[str, Any]:
    """The files in KUBECONFIG (or ~/.kube/config), merged."""
    paths = [Path(p) for p in (os.environ.get("KUBECONFIG") or "~/.kube/config").split(os.pathsep) if p]
    merged: dict[str, Any] = {}
    for path in (p.expanduser() for p in paths):
        if not path.exists():
            continue
        try:
            config = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CredentialsError(f"the kubeconfig {path} cannot be read ({type(exc).__name__})") from exc
        _merge(merged, config, path.parent)
    return merged


def _merge(into: dict[str, Any], config: dict[str, Any], base: Path) -> None:
    """kubectl's merge of a KUBECONFIG list: the first file to set a name or the current context wins.
    Relative file paths are made absolute against their own file's directory."""
    if not into.get("current-context"):
        into["current-context"] = config.get("current-context")
    for section, files in (
        ("clusters", ("certificate-authority",)),
        ("users", ("client-certificate", "client-key", "tokenFile")),
        ("contexts", ()),
    ):
        entries = into.setdefault(section, [])
        known = {e.get("name") for e in entries}
        for entry in config.get(section) or []:
            if not isinstance(entry, dict) or entry.get("name") in known:
                continue
            body = dict(entry.get(section[:-1]) or {})
            for key in files:
                if body.get(key) and not Path(body[key]).is_absolute():
                    body[key] = str(base / body[key])
            entries.append({"name": entry.get("name"), section[:-1]: body})
