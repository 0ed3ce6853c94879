"""One REST client per member cluster, built from the kubeconfig Secret its MemberCluster names.

Clients are kept across reconciles and rebuilt only when the Secret's resourceVersion
changes (rotation), so a sync costs no TLS handshake. Credentials never leave this
module: errors say what is wrong with a kubeconfig, never what is in it. A ServiceAccount
token (as ``bizdomain join`` mints) is renewed here once ``token_renew_fraction`` of its
lifetime has passed: a new one from the member's TokenRequest API, written back to the
Secret (see :mod:`bizdomain.members.tokens`), so members never need a re-join.
"""

from __future__ import annotations

import base64
import binascii
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import yaml

from bizdomain.config import Settings
from bizdomain.members.kubeconfig import CredentialsError, from_kubeconfig, refuse_unsafe
from bizdomain.members.rest import Kube, KubeError
from bizdomain.members.tokens import Claims, claims, kubeconfig_token, renew, with_token

log = logging.getLogger(__name__)
WATCH_CONNECTIONS = 8
RENEW_RETRY_SECONDS = 60.0


@dataclass
class _Entry:
    version: str
    kube: Kube
    text: str = ""  # the kubeconfig, to write a renewed token into
    claims: Claims | None = None  # of its ServiceAccount token (None: nothing to renew)
    renew_at: float = float("inf")  # epoch seconds


async def kube_from_kubeconfig(
    text: str, cluster: str, settings: Settings, *, key_dir: str | None = None, safe_only: bool = False
) -> Kube:
    """A client for the cluster a kubeconfig describes (its current context).

    ``safe_only``: refuse plugins, local files and http:// first (see :func:`refuse_unsafe`).
    """
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CredentialsError("the kubeconfig is not valid YAML") from exc
    if safe_only:
        refuse_unsafe(config)
    credentials = await from_kubeconfig(config, key_dir=key_dir)
    return Kube(
        credentials,
        cluster,
        timeout=settings.request_timeout_seconds,
        concurrency=settings.member_concurrency,
        # Requests in flight, plus one connection per watch (the member view watches 7 kinds).
        connections=settings.member_concurrency + WATCH_CONNECTIONS,
        key_dir=key_dir,
    )


class MemberClients:
    """The operator's clients to member clusters, keyed by MemberCluster name."""

    def __init__(self, host: Kube, settings: Settings) -> None:
        self.host = host
        self.settings = settings
        self._entries: dict[str, _Entry] = {}
        self._retired: dict[str, Kube] = {}  # a client replaced by a renewal, per cluster: a pass may still use it
        self._keys: str | None = None  # made on first need, so a killed operator leaves nothing behind

    async def _secret(self, name: str) -> dict[str, Any]:
        secret = await self.host.get("Secret", name, self.settings.namespace)
        if secret is None:
            raise CredentialsError(f"Secret {self.settings.namespace}/{name} does not exist")
        return secret

    async def client(self, cluster: str, secret_name: str, secret_key: str) -> Kube:
        """The client for ``cluster``, rebuilt when its Secret changed since the last call."""
        where = f"Secret {self.settings.namespace}/{secret_name}"
        try:
            secret = await self._secret(secret_name)
        except KubeError as exc:
            if exc.status in (401, 403, 404):
                raise CredentialsError(f"cannot read {where}: {exc.status} {exc.reason}") from exc
            raise  # the host itself is unreachable: that says nothing about the member's credentials
        version = str(secret.get("metadata", {}).get("resourceVersion", ""))
        entry = self._entries.get(cluster)
        if entry is not None and entry.version == version:
            if time.time() >= entry.renew_at:
                return await self._renew(cluster, secret_name, secret_key, entry)
            return entry.kube
        encoded = (secret.get("data") or {}).get(secret_key)
        if not encoded:
            raise CredentialsError(f"Secret {self.settings.namespace}/{secret_name} has no key {secret_key!r}")
        try:
            text = base64.b64decode(encoded).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise CredentialsError(f"{where} key {secret_key!r} is not a text kubeconfig") from exc
        try:
            kube = await self._client(text, cluster)
        except CredentialsError as exc:
            raise CredentialsError(f"{where} key {secret_key!r}: {exc}") from exc
        if entry is not None:
            log.info("credentials of cluster %s changed; client rebuilt", cluster)
            await entry.kube.close()
        self._entries[cluster] = self._entry(version, kube, text)
        return kube

    @property
    def _key_dir(self) -> str:
        """Where a credential plugin's loader may write key files: a private directory (0700),
        removed on close. Kubeconfigs without a plugin need none (a client certificate is written to a
        directory of its own and removed at once), so only an opted-in plugin makes one."""
        if self._keys is None:
            self._keys = tempfile.mkdtemp(prefix="bizdomain-keys-")
        return self._keys

    async def _client(self, text: str, cluster: str) -> Kube:
        """A client from a member's kubeconfig, refusing plugins, files and http unless the platform opts in."""
        unsafe = self.settings.allow_unsafe_kubeconfigs
        return await kube_from_kubeconfig(
            text, cluster, self.settings, key_dir=self._key_dir if unsafe else None, safe_only=not unsafe
        )

    def _entry(self, version: str, kube: Kube, text: str) -> _Entry:
        token = kubeconfig_token(text)
        found = claims(token) if token else None
        if found is None or found.service_account is None:
            return _Entry(version, kube)
        return _Entry(version, kube, text, found, found.renew_at(self.settings.token_renew_fraction))

    async def _renew(self, cluster: str, secret_name: str, secret_key: str, entry: _Entry) -> Kube:
        """Renew the member token and write it back to the Secret; on failure keep the current one."""
        assert entry.claims is not None
        where = f"Secret {self.settings.namespace}/{secret_name}"
        entry.renew_at = time.time() + RENEW_RETRY_SECONDS  # one attempt at a time, and not every pass
        try:
            text = with_token(entry.text, await renew(entry.kube, entry.claims))
            patch = {
                "metadata": {"resourceVersion": entry.version},  # a precondition: never overwrite a re-join
                "data": {secret_key: base64.b64encode(text.encode()).decode()},
            }
            path = f"/api/v1/namespaces/{self.settings.namespace}/secrets/{secret_name}"
            written = await self.host.request("PATCH", path, body=patch, content_type="application/merge-patch+json")
            kube = await self._client(text, cluster)
        except (KubeError, CredentialsError, ValueError) as exc:
            expires = entry.claims.expires - time.time()
            log.warning(
                "cluster %s: renewing the member token failed (%s); the current one expires in %.0f s",
                cluster,
                exc,
                expires,
                extra={"cluster": cluster},
            )
            return entry.kube
        version = str(written.get("metadata", {}).get("resourceVersion", ""))
        log.info("cluster %s: member token renewed and written to %s", cluster, where, extra={"cluster": cluster})
        old = self._retired.pop(cluster, None)  # retired a renewal ago: no pass still holds it
        if old is not None:
            await old.close()
        self._retired[cluster] = entry.kube
        self._entries[cluster] = self._entry(version, kube, text)
        return kube

    async def forget(self, cluster: str) -> None:
        entry = self._entries.pop(cluster, None)
        if entry is not None:
            await entry.kube.close()
        retired = self._retired.pop(cluster, None)
        if retired is not None:
            await retired.close()

    async def close(self) -> None:
        for cluster in {*self._entries, *self._retired}:
            await self.forget(cluster)
        if self._keys is not None:
            shutil.rmtree(self._keys, ignore_errors=True)  # a plugin's loader may have left files there
