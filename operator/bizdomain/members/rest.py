"""A small JSON REST client: one aiohttp session per cluster, credentials from :mod:`.kubeconfig`.

The operator talks to many clusters with a handful of kinds (where each lives in the API:
:mod:`.kinds`); it needs lists (paged, all-or-nothing), watches, server-side apply, and deletes
with preconditions, on raw JSON rather than generated models (cheaper, and one code path for
every kind). Requests go straight to an aiohttp session with the cluster's TLS and a bearer
token asked for on every request, so a rotating in-cluster token is followed. One
:class:`Kube` per cluster.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from bizdomain import names
from bizdomain.members.kinds import KINDS
from bizdomain.members.kubeconfig import Credentials, CredentialsError

JSON = dict[str, Any]
RETRIES_429 = 4


def open_session(
    credentials: Credentials, connections: int, *, key_dir: str | None = None, headers: dict[str, str] | None = None
) -> aiohttp.ClientSession:
    """An aiohttp session to one cluster with at most ``connections`` connections.

    The bound matters: every TLS connection holds a 256 KiB read buffer and cost the server a
    handshake. No proxy variables, no netrc (``trust_env=False``): the API servers are reached
    directly, and reading those per request was most of the generated client's CPU.
    """
    context = credentials.ssl_context(key_dir)
    connector = aiohttp.TCPConnector(ssl=False if context is None else context, limit=connections)
    return aiohttp.ClientSession(connector=connector, trust_env=False, read_bufsize=2**21, headers=headers)


class KubeError(Exception):
    """An API call that did not succeed: HTTP status (0 when the server was not reached) and reason."""

    def __init__(self, cluster: str, status: int, reason: str, message: str) -> None:
        super().__init__(f"{cluster}: {status} {reason}: {message}" if status else f"{cluster}: {message}")
        self.cluster = cluster
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def unreachable(self) -> bool:
        return self.status == 0 or self.status >= 500


class Kube:
    """JSON REST calls to one cluster, with a bound on requests in flight and a per-request timeout."""

    def __init__(
        self,
        credentials: Credentials,
        cluster: str,
        *,
        timeout: float = 10.0,
        concurrency: int = 16,
        connections: int | None = None,
        key_dir: str | None = None,
    ) -> None:
        self.credentials = credentials
        self.cluster = cluster
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = open_session(credentials, connections or concurrency, key_dir=key_dir)
        self._server_hostname = credentials.tls_server_name

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: JSON | bytes | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        limits: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        """Start one request (the caller reads and releases the response); no request slot is taken."""
        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            token = await self.credentials.token()
        except CredentialsError as exc:
            raise KubeError(self.cluster, 0, "NoCredentials", str(exc)) from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes | None) else json.dumps(body, separators=(",", ":")).encode()
        extra: dict[str, Any] = {"server_hostname": self._server_hostname} if self._server_hostname else {}
        return await self._session.request(
            method,
            f"{self.credentials.server}{path}",
            params=query or None,
            data=data,
            headers=headers,
            timeout=limits or self._timeout,
            **extra,
        )

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: JSON | bytes | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        """One call; 429 (throttled, or a CRD's storage still initializing) is retried briefly."""
        for attempt in range(RETRIES_429):
            try:
                return await self._request(method, path, query=query, body=body, content_type=content_type)
            except KubeError as exc:
                if exc.status != 429 or attempt == RETRIES_429 - 1:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None,
        body: JSON | bytes | None,
        content_type: str,
    ) -> JSON:
        async with self._slots:
            try:
                response = await self.send(method, path, query=query, body=body, content_type=content_type)
                async with response:
                    raw = await response.read()
                    status = response.status
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                raise KubeError(self.cluster, 0, "Unreachable", f"{type(exc).__name__}: {exc}") from exc
        try:
            data: JSON = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise KubeError(self.cluster, status, "BadResponse", "the server did not answer JSON") from exc
        if not 200 <= status <= 299:
            raise KubeError(self.cluster, status, str(data.get("reason", "")), str(data.get("message", raw[:200])))
        return data

    async def list(
        self,
        kind: str,
        *,
        label_selector: str | None = None,
        page: int = 5000,
        each: Callable[[JSON], None] | None = None,
    ) -> list[JSON]:
        """Every object of ``kind`` (all namespaces), all pages or an error: never a partial list.

        With ``each``, every object is handed to it as its page arrives and none is kept (the
        caller keeps what it needs), so a large list never sits in memory whole.
        """
        items: list[JSON] = []
        await self.list_version(kind, items.append if each is None else each, label_selector=label_selector, page=page)
        return items

    async def list_version(
        self, kind: str, each: Callable[[JSON], None], *, label_selector: str | None = None, page: int = 5000
    ) -> str:
        """Hand every object of ``kind`` to ``each``, page by page; returns the list's resourceVersion
        (every page is served from the same snapshot, so a watch can resume from it)."""
        spec = KINDS[kind]
        query = {"limit": str(page)}
        if label_selector:
            query["labelSelector"] = label_selector
        version = ""
        while True:
            data = await self.request("GET", spec.collection(), query=query)
            if not isinstance(data.get("items"), list):
                raise KubeError(self.cluster, 0, "BadList", f"listing {kind} returned no items field")
            meta = data.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            for item in data["items"]:
                # Often half of an object, and never compared: do not keep it.
                (item.get("metadata") or {}).pop("managedFields", None)
                item.setdefault("kind", kind)
                each(item)
            token = meta.get("continue")
            if not token:
                return version
            query["continue"] = token

    async def watch(
        self, kind: str, *, resource_version: str, label_selector: str | None = None, timeout_seconds: int = 300
    ) -> AsyncIterator[tuple[str, JSON]]:
        """The events of ``kind`` (all namespaces) after ``resource_version``, bookmarks included.

        Yields ``(type, object)`` until the server ends the stream (after about ``timeout_seconds``);
        a failure to connect, a non-200 answer or a broken stream raises KubeError. A watch holds a
        connection, not one of the request slots: it never queues the writes.
        """
        query = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        timeout = aiohttp.ClientTimeout(connect=self.timeout, sock_connect=self.timeout, sock_read=timeout_seconds + 30)
        try:
            response = await self.send("GET", KINDS[kind].collection(), query=query, limits=timeout)
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            raise KubeError(self.cluster, 0, "Unreachable", f"{type(exc).__name__}: {exc}") from exc
        async with response:
            if response.status != 200:
                raw = await response.read()
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = {}
                raise KubeError(
                    self.cluster, response.status, str(data.get("reason", "")), str(data.get("message", raw[:200]))
                )
            try:
                async for line in response.content:
                    if line.strip():
                        event = json.loads(line)
                        yield str(event.get("type", "")), event.get("object") or {}
            except (TimeoutError, OSError, aiohttp.ClientError, ValueError) as exc:
                raise KubeError(self.cluster, 0, "WatchBroken", f"{type(exc).__name__}: {exc}") from exc

    async def get(self, kind: str, name: str, namespace: str | None = None) -> JSON | None:
        try:
            return await self.request("GET", KINDS[kind].item(name, namespace))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def apply(self, body: JSON, *, force: bool = True, subresource: str | None = None) -> JSON:
        """Server-side apply under the operator's one field manager."""
        meta = body["metadata"]
        return await self._apply(
            body["kind"], meta["name"], meta.get("namespace"), body, force=force, subresource=subresource
        )

    async def apply_manifest(self, kind: str, name: str, namespace: str | None, raw: bytes) -> JSON:
        """Server-side apply of a manifest already serialized (as plans keep them)."""
        return await self._apply(kind, name, namespace, raw, force=True, subresource=None)

    async def create_manifest(self, kind: str, namespace: str | None, raw: bytes) -> JSON:
        """A plain create (409 AlreadyExists when the name is taken: never an adoption)."""
        query = {"fieldManager": names.FIELD_MANAGER}
        return await self.request("POST", KINDS[kind].collection(namespace), query=query, body=raw)

    async def _apply(
        self, kind: str, name: str, namespace: str | None, body: JSON | bytes, *, force: bool, subresource: str | None
    ) -> JSON:
        path = KINDS[kind].item(name, namespace, subresource)
        query = {"fieldManager": names.FIELD_MANAGER, "force": "true" if force else "false"}
        return await self.request("PATCH", path, query=query, body=body, content_type="application/apply-patch+yaml")

    async def merge_patch(
        self, kind: str, name: str, namespace: str | None, patch: JSON, subresource: str = ""
    ) -> JSON:
        path = KINDS[kind].item(name, namespace, subresource)
        return await self.request(
            "PATCH",
            path,
            query={"fieldManager": names.FIELD_MANAGER},
            body=patch,
            content_type="application/merge-patch+json",
        )

    async def delete(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> bool:
        """Delete one object (only the one with ``uid``, unchanged since ``resource_version``, when
        given: otherwise 409 Conflict); False when it was already gone."""
        body: JSON = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            body["preconditions"] = preconditions
        try:
            await self.request("DELETE", KINDS[kind].item(name, namespace), body=body)
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def version(self) -> str:
        data = await self.request("GET", "/version")
        return str(data.get("gitVersion", "unknown"))
