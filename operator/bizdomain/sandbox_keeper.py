"""One keeper per Sandbox: its status, ``ExpiringSoon`` at 80% of its life, and its expiry on time.

Run by the kopf daemon in :mod:`bizdomain.handlers` (one per Sandbox, restarted by kopf for every
Sandbox when the operator starts, so a SIGKILL loses no expiry). It sleeps until the next thing
due (the 80% mark, the expiry, or a status refresh), never sweeps. At expiry it deletes the
Sandbox object itself (with its uid as precondition): the finalizer then holds it until every
member has pruned its namespaces, by the same fail-closed path as a deleted binding (an
unreachable member deletes nothing and the sandbox waits). A Sandbox the operator cannot see (not
in its index, or without a creation time) is never taken as expired.

:func:`hold_until_clean` is what the deletion handler calls.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf

from bizdomain import names
from bizdomain.conditions import same_status
from bizdomain.members import KubeError
from bizdomain.plan.cluster import domain_for_namespace
from bizdomain.plan.inputs import SandboxRecord
from bizdomain.plan.sandbox import tenant_environment
from bizdomain.plan.sandbox_lifetime import expiring_at, expiry
from bizdomain.reporting import post_event
from bizdomain.runtime import Runtime
from bizdomain.sandbox_status import sandbox_status

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0  # status follows the member passes this often at most


async def event(rt: Runtime, sandbox: SandboxRecord, type_: str, reason: str, message: str) -> None:
    """A core/v1 Event on the Sandbox, in its domain namespace."""
    involved = {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND_SANDBOX,
        "name": sandbox.name,
        "namespace": sandbox.namespace,
        "uid": sandbox.uid,
    }
    await post_event(
        rt.status_host,
        involved,
        namespace=sandbox.namespace,
        name=sandbox.name,
        type_=type_,
        reason=reason,
        message=message,
    )


def _was_expiring(sandbox: SandboxRecord) -> bool:
    conditions = sandbox.status.get("conditions") or []
    return any(c.get("type") == names.COND_EXPIRING_SOON and c.get("status") == "True" for c in conditions)


async def _write_status(
    rt: Runtime, sandbox: SandboxRecord, now: datetime.datetime, blocked: str = ""
) -> dict[str, Any]:
    reports = {name: p.report for name, p in rt.passes.items()}
    model = sandbox_status(sandbox, rt.world(), reports, rt.settings, now)
    if blocked:  # its deletion waits for an unreachable member
        ready = model.conditions[0]
        model.conditions[0] = ready.model_copy(
            update={"status": "False", "reason": names.Reason.DELETION_BLOCKED, "message": blocked}
        )
    status = model.to_wire()
    if not same_status(status, sandbox.status):
        await rt.status_host.merge_patch(
            names.KIND_SANDBOX, sandbox.name, sandbox.namespace, {"status": status}, subresource="status"
        )
    return status


async def keep(rt: Runtime, namespace: str, name: str, stopped: Any) -> None:
    """Tend one Sandbox until it is deleted (the daemon's body)."""
    expired = False  # announced once per keeper; the delete itself is repeated until it is seen
    while not stopped:
        sandbox = rt.world().sandboxes.get((namespace, name))
        if sandbox is None or sandbox.deleting:
            await stopped.wait(1.0)  # not seen yet, or its deletion handler has it: never taken as expiry
            continue
        now = datetime.datetime.now(datetime.UTC)
        was_expiring = _was_expiring(sandbox)
        try:
            status = await _write_status(rt, sandbox, now)
        except KubeError as exc:
            log.warning("sandbox %s/%s: writing status failed: %s", namespace, name, exc)
            status = {}
        soon = any(
            c.get("type") == names.COND_EXPIRING_SOON and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        end = expiry(sandbox)
        if soon and not was_expiring and end is not None:
            message = f"sandbox {name} expires at {status.get('expiresAt')}: extend it with spec.expiresAt"
            await event(rt, sandbox, "Normal", names.Reason.EXPIRING_SOON, message)
        if end is not None and now >= end:
            await _expire(rt, sandbox, announce=not expired)
            expired = True
            await stopped.wait(1.0)
            continue
        due = [t for t in (expiring_at(sandbox), end) if t is not None and t > now]
        pause = min([REFRESH_SECONDS, *((t - now).total_seconds() for t in due)])
        await stopped.wait(max(pause, 0.05))


async def _expire(rt: Runtime, sandbox: SandboxRecord, *, announce: bool) -> None:
    """Delete the expired Sandbox (this very one, by uid); its finalizer does the rest."""
    if announce:
        await event(rt, sandbox, "Normal", names.Reason.EXPIRED, f"sandbox {sandbox.name} expired: deleting it")
    try:
        await rt.host.delete(names.KIND_SANDBOX, sandbox.name, sandbox.namespace, uid=sandbox.uid)
    except KubeError as exc:
        log.warning("sandbox %s/%s: deleting at expiry failed: %s", sandbox.namespace, sandbox.name, exc)


async def hold_until_clean(
    rt: Runtime, *, namespace: str, name: str, environment: str | None, started: datetime.datetime
) -> None:
    """Hold the finalizer until every member pruned the sandbox's namespaces (the deletion handler's
    body). Never released on a timer: a member that cannot be read deletes nothing, and the sandbox
    waits for it in phase Deleting, its Ready condition (and one Event) saying DeletionBlocked."""
    domain = domain_for_namespace(namespace, rt.settings)
    if domain is None or environment is None:
        return
    rt.poke(domain=domain)
    since = started if started.tzinfo else started.replace(tzinfo=datetime.UTC)
    done, blocked = rt.cleanup_state(domain, tenant_environment(environment, name), since)
    if done:
        return
    message = (
        f"waiting for unreachable clusters {', '.join(blocked)}: the sandbox's namespaces there are deleted "
        "once they are back"
    )
    sandbox = rt.world().sandboxes.get((namespace, name))
    if sandbox is not None and sandbox.deleting:
        try:
            await _write_status(rt, sandbox, datetime.datetime.now(datetime.UTC), message if blocked else "")
        except KubeError as exc:
            log.warning("sandbox %s/%s: writing status failed: %s", namespace, name, exc)
        if blocked and _ready_reason(sandbox.status) != names.Reason.DELETION_BLOCKED:  # once (as last written)
            await event(rt, sandbox, "Warning", names.Reason.DELETION_BLOCKED, message)
    if blocked:
        raise kopf.TemporaryError(f"{names.Reason.DELETION_BLOCKED}: {message}", delay=5)
    raise kopf.TemporaryError("waiting for member clusters to delete the sandbox's namespaces", delay=1)


def _ready_reason(status: dict[str, Any]) -> str | None:
    ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == names.COND_READY), {})
    reason = ready.get("reason")
    return str(reason) if reason is not None else None


__all__ = ["hold_until_clean", "keep"]
