"""One REST client per member cluster, built from the kubeconfig Secret its MemberCluster names.

Clients are kept across reconciles and rebuilt only when the Secret's resourceVersion
changes (rotation), so a sync costs no TLS handshake. Credentials never leave this
module: errors say what is wrong with a kubeconfig, never what is in it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import tempfile
from dataclasses import dataclass
from typing import Any

import yaml

from bizdomain.config import Settings
from bizdomain.members.kubeconfig import CredentialsError, from_kubeconfig, refuse_unsafe
from bizdomain.members.rest import Kube, KubeError

log = logging.getLogger(__name__)
WATCH_CONNECTIONS = 8


@dataclass
class _Entry:
    version: str
    kube: Kube


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
        self._key_dir = tempfile.mkdtemp(prefix="bizdomain-keys-")  # 0700, private to the process

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
            return entry.kube
        encoded = (secret.get("data") or {}).get(secret_key)
        if not encoded:
            raise CredentialsError(f"Secret {self.settings.namespace}/{secret_name} has no key {secret_key!r}")
        try:
            text = base64.b64decode(encoded).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise CredentialsError(f"{where} key {secret_key!r} is not a text kubeconfig") from exc
        try:
            kube = await kube_from_kubeconfig(
                text, cluster, self.settings, key_dir=self._key_dir, safe_only=not self.settings.allow_unsafe_kubeconfigs
            )
        except CredentialsError as exc:
            raise CredentialsError(f"{where} key {secret_key!r}: {exc}") from exc
        if entry is not None:
            log.info("credentials of cluster %s changed; client rebuilt", cluster)
            await entry.kube.close()
        self._entries[cluster] = _Entry(version, kube)
        return kube

    async def forget(self, cluster: str) -> None:
        entry = self._entries.pop(cluster, None)
        if entry is not None:
            await entry.kube.close()

    async def close(self) -> None:
        for cluster in list(self._entries):
            await self.forget(cluster)
