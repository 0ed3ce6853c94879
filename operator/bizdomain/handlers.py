"""kopf handlers: thin doors into the runtime. The only module where kopf's decorators live.

- Indexes keep parsed records of every BusinessDomain, EnvironmentBinding and MemberCluster
  (kopf fills them before any other handler runs).
- The startup handler creates the runtime and starts it; resource handlers tell it the indexes
  are filled (:meth:`Runtime.loaded`) and poke it when a spec, label or deletion mark changed
  (not on our own status writes: :class:`bizdomain.records.ChangeFilter`).
- Deletion handlers hold the finalizer until every member has been cleaned up.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.hostclient import host_kube
from bizdomain.members import KubeError, host_credentials, open_session
from bizdomain.plan import domain_for_namespace
from bizdomain.records import binding_record, domain_record, host_namespace_record, member_record, sandbox_record
from bizdomain.runtime import Runtime, world_from_indexes
from bizdomain.sandbox_keeper import hold_until_clean, keep

log = logging.getLogger(__name__)
INDEXES = ("domain_index", "binding_index", "member_index", "host_namespace_index", "sandbox_index")
KOPF_CONNECTIONS = 48  # kopf's watch streams (3) plus its finalizer patches during a burst of new objects


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff-base: the only changing handlers are deletion handlers, which need none.

    kopf's default keeps a copy of every object's spec in an annotation, to diff it for
    create and update handlers; here that would cost a PATCH per host object and a copy
    of its body per watch event, for nothing. Every object reads as already seen and
    unchanged, so kopf never writes one.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return {}

    def fetch(self, *, body: kopf.Body) -> Any:
        return {}

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        return None


def configure(settings: kopf.OperatorSettings) -> None:
    """Keep kopf's bookkeeping under our group, out of spec and status."""
    settings.persistence.finalizer = names.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.KOPF_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.level = logging.WARNING
    settings.watching.connect_timeout = 5
    settings.watching.server_timeout = 120
    settings.watching.client_timeout = 150
    settings.networking.request_timeout = 30
    settings.execution.max_workers = 4
    settings.queueing.idle_timeout = 1.0  # an idle per-object worker holds its last body (default 5 s)
    # The CRDs are installed before the operator (chart, `make install`): no need to watch CRDs.
    settings.scanning.disabled = True


@kopf.on.startup()
async def on_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    """Configure kopf, connect to the host, create the runtime and start it on kopf's indexes.

    The indexes are live (kopf fills them as it watches); the runtime's loops wait until the
    first resource handler says they are filled (:meth:`Runtime.loaded`).
    """
    configure(settings)
    config = Settings.from_env()
    memo.settings = config
    runtime = Runtime(config, await host_kube(config), await host_kube(config))
    memo.runtime = runtime
    indexes = {name: kwargs[name] for name in INDEXES}
    runtime.start(lambda: world_from_indexes(indexes))


@kopf.on.login()
async def on_login(**_: Any) -> kopf.AiohttpSession:
    """kopf's connection to the host: the operator's own credentials, and a bounded pool.

    kopf's default session opens as many connections as it has requests in flight (a hundred
    and more while a burst of new objects each get their finalizer); every one costs a TLS
    handshake and about 300 KiB of buffers. Too tight a bound is worse: at 12, kopf's finalizer
    PATCHes answered late made it patch again from stale events (twice the PATCHes, measured).
    kopf asks again when the server answers 401 (a rotated token).
    """
    credentials = await host_credentials()
    token = await credentials.token()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return kopf.AiohttpSession(
        server=credentials.server, aiohttp_session=open_session(credentials, KOPF_CONNECTIONS, headers=headers)
    )


@kopf.on.cleanup()
async def on_cleanup(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    await runtime.stop()
    await runtime.host.close()


# The indexes are coroutines although they never await: kopf runs plain functions in a thread
# pool, which costs a thread hop per watch event and spreads the records over malloc arenas.
@kopf.index(names.GROUP, names.VERSION, names.PLURAL_DOMAIN)
async def domain_index(name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    return {name: domain_record(body, memo.runtime.specs)}


@kopf.index(names.GROUP, names.VERSION, names.PLURAL_BINDING)
async def binding_index(namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): binding_record(body, memo.runtime.specs)}


@kopf.index(names.GROUP, names.VERSION, names.PLURAL_MEMBER)
async def member_index(name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    return {name: member_record(body, memo.runtime.specs)}


@kopf.index("v1", "namespaces")
async def host_namespace_index(name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Host namespaces named like a domain's: whether the operator made them, and for which domain."""
    if domain_for_namespace(name, memo.settings) is None:
        return {}
    return {name: host_namespace_record(body)}


@kopf.on.event(names.GROUP, names.VERSION, names.PLURAL_DOMAIN)
async def on_domain_event(body: kopf.Body, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A domain changed: every cluster syncs that domain."""
    runtime: Runtime = memo.runtime
    runtime.loaded()  # kopf runs no resource handler before it has filled the indexes
    if runtime.changes.changed(names.KIND_DOMAIN, body, event.get("type")):
        runtime.poke(domain=body.get("metadata", {}).get("name"))


@kopf.on.event(names.GROUP, names.VERSION, names.PLURAL_BINDING)
async def on_binding_event(body: kopf.Body, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A binding changed: every cluster syncs its domain."""
    runtime: Runtime = memo.runtime
    runtime.loaded()  # kopf runs no resource handler before it has filled the indexes
    if runtime.changes.changed(names.KIND_BINDING, body, event.get("type")):
        namespace = body.get("metadata", {}).get("namespace") or ""
        runtime.poke(domain=domain_for_namespace(namespace, runtime.settings))


@kopf.on.event(names.GROUP, names.VERSION, names.PLURAL_MEMBER)
async def on_member_event(body: kopf.Body, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A member cluster was added, changed or removed."""
    runtime: Runtime = memo.runtime
    runtime.loaded()  # kopf runs no resource handler before it has filled the indexes
    if runtime.changes.changed(names.KIND_MEMBER, body, event.get("type")):
        runtime.poke(members_changed=True)


@kopf.on.event("v1", "namespaces")
async def on_host_namespace_event(name: str, body: kopf.Body, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A domain's host namespace appeared, went or was relabelled: its trust may have changed."""
    domain = domain_for_namespace(name, memo.settings)
    if domain is None:
        return
    runtime: Runtime = memo.runtime
    runtime.loaded()  # kopf runs no resource handler before it has filled the indexes
    if runtime.changes.changed("Namespace", body, event.get("type")):
        runtime.poke(domain=domain)


def _since(started: datetime.datetime) -> datetime.datetime:
    return started if started.tzinfo else started.replace(tzinfo=datetime.UTC)


def _wait_for_cleanup(
    runtime: Runtime,
    *,
    domain: str,
    environment: str | None,
    started: datetime.datetime,
    elapsed: float,
    what: str,
) -> None:
    runtime.poke(domain=domain)
    done, blocked = runtime.cleanup_state(domain, environment, _since(started))
    if done:
        return
    grace = runtime.settings.deletion_grace_seconds
    if blocked and elapsed >= grace:
        log.warning(
            "%s: clusters %s stayed unreachable for %.0fs; releasing the deletion and leaving their objects "
            "for the next sync once they return",
            what,
            ", ".join(blocked),
            elapsed,
        )
        return
    if blocked:
        raise kopf.TemporaryError(
            f"{names.Reason.DELETION_BLOCKED}: waiting for unreachable clusters {', '.join(blocked)} to be "
            f"cleaned up (released after {grace:.0f}s)",
            delay=5,
        )
    raise kopf.TemporaryError("waiting for member clusters to be cleaned up", delay=1)


@kopf.on.delete(names.GROUP, names.VERSION, names.PLURAL_BINDING)
async def on_binding_delete(
    *,
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    started: datetime.datetime,
    runtime: datetime.timedelta,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Hold the finalizer until the binding's footprint is pruned (by its policy) everywhere."""
    rt: Runtime = memo.runtime
    rt.loaded()
    domain = domain_for_namespace(namespace or "", rt.settings)
    if domain is None:
        return
    environment = spec.get("environment") or name
    _wait_for_cleanup(
        rt,
        domain=domain,
        environment=environment,
        started=started,
        elapsed=runtime.total_seconds(),
        what=f"binding {namespace}/{name}",
    )


@kopf.on.delete(names.GROUP, names.VERSION, names.PLURAL_DOMAIN)
async def on_domain_delete(
    *, name: str, started: datetime.datetime, runtime: datetime.timedelta, memo: kopf.Memo, **_: Any
) -> None:
    """Hold the finalizer until every environment is cleaned up, then remove the domain's host namespace."""
    rt: Runtime = memo.runtime
    rt.loaded()
    _wait_for_cleanup(
        rt, domain=name, environment=None, started=started, elapsed=runtime.total_seconds(), what=f"domain {name}"
    )
    try:
        await rt.delete_host_namespace(name)
    except KubeError as exc:
        raise kopf.TemporaryError(f"deleting the domain's host namespace failed: {exc}", delay=5) from exc


# ---- sandboxes -----------------------------------------------------------------------------


@kopf.index(names.GROUP, names.VERSION, names.PLURAL_SANDBOX)
async def sandbox_index(namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): sandbox_record(body, memo.runtime.specs)}


@kopf.on.event(names.GROUP, names.VERSION, names.PLURAL_SANDBOX)
async def on_sandbox_event(body: kopf.Body, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A sandbox changed: every cluster syncs its domain."""
    runtime: Runtime = memo.runtime
    runtime.loaded()  # kopf runs no resource handler before it has filled the indexes
    if runtime.changes.changed(names.KIND_SANDBOX, body, event.get("type")):
        namespace = body.get("metadata", {}).get("namespace") or ""
        runtime.poke(domain=domain_for_namespace(namespace, runtime.settings))


@kopf.daemon(names.GROUP, names.VERSION, names.PLURAL_SANDBOX, cancellation_timeout=5.0)
async def sandbox_keeper(
    name: str, namespace: str | None, stopped: kopf.DaemonStopped, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Status, ExpiringSoon and the expiry of one sandbox, on time (see bizdomain.sandbox_keeper)."""
    runtime: Runtime = memo.runtime
    runtime.loaded()
    await keep(runtime, namespace or "", name, stopped)


@kopf.on.delete(names.GROUP, names.VERSION, names.PLURAL_SANDBOX)
async def on_sandbox_delete(
    *, name: str, namespace: str | None, spec: kopf.Spec, started: datetime.datetime, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Hold the finalizer until every member deleted the sandbox's namespaces (never released on a timer)."""
    rt: Runtime = memo.runtime
    rt.loaded()
    environment = spec.get("environment")
    await hold_until_clean(rt, namespace=namespace or "", name=name, environment=environment, started=started)
