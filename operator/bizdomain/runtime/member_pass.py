"""One pass over one member: credentials, version probe, view, plan, sync; and its log lines.

Called by :meth:`bizdomain.runtime.worker.MemberWorker.sync`, which owns what a pass reads and
leaves behind (the member's view, last pass and version). Everything decided here is about the
member's answer: refused credentials, an unreachable API server, or a host that did not answer
(then the pass says nothing about the member at all).
"""

from __future__ import annotations

import logging
from typing import Protocol

from bizdomain import names
from bizdomain.members import CredentialsError, Kube, KubeError
from bizdomain.plan import MemberRecord, World, plan_cluster
from bizdomain.report import ClusterReport, failure_reason
from bizdomain.runtime.passes import Pass
from bizdomain.runtime.shared import Shared, Skip
from bizdomain.sync import sync_cluster
from bizdomain.sync.view import MemberView

log = logging.getLogger("bizdomain.runtime")
ACTIONS = ("created", "updated", "corrected", "pruned", "released")


class Member(Protocol):
    """What a pass reads of its member's worker, and leaves there (the version probed)."""

    shared: Shared
    last: Pass | None
    version: str | None

    def view_for(self, kube: Kube) -> MemberView: ...


class HostUnavailable(Exception):
    """The host API server did not answer: a pass cannot run, and says nothing about the member."""


async def run_pass(
    worker: Member, member: MemberRecord, world: World, scope: frozenset[str] | None, skip: Skip | None
) -> ClusterReport:
    """Sync ``member`` on its plan from ``world`` (all of it, or only ``scope``'s domains)."""
    shared = worker.shared
    if member.spec is None:
        return ClusterReport(member.name, ok=False, reason=names.Reason.INVALID_SPEC, message=member.error or "")
    ref = member.spec.kubeconfig_secret_ref
    secret = f"Secret {shared.settings.namespace}/{ref.name}"
    try:
        kube = await shared.clients.client(member.name, ref.name, ref.key)
    except CredentialsError as exc:
        return ClusterReport(member.name, ok=False, reason=names.Reason.CREDENTIALS_INVALID, message=str(exc))
    except KubeError as exc:  # the host did not answer: no verdict on the member
        raise HostUnavailable(f"cannot read {secret} from the host: {exc}") from exc
    if worker.version is None or worker.last is None or not worker.last.report.ok:
        try:
            worker.version = await kube.version()
        except KubeError as exc:
            if exc.status in (401, 403):
                reason, message = names.Reason.CREDENTIALS_INVALID, refused(secret, exc)
                return ClusterReport(member.name, ok=False, reason=reason, message=message)
            return ClusterReport(
                member.name,
                ok=False,
                reason=failure_reason(None, exc.unreachable),
                message=f"cannot reach the API server: {exc}",
            )
    view = worker.view_for(kube)
    if not view.planned:
        scope, skip = None, None  # the view is judged against a whole plan: the first pass is full
    plan = plan_cluster(member, world, shared.settings, scope, memo=shared.planned)
    report = await sync_cluster(kube, plan, shared.settings, scope=scope, skip=skip, view=view)
    if report.reason == names.Reason.CREDENTIALS_INVALID:
        report.message = f"{refused(secret, None)}: {report.message}"
    return report


def refused(secret: str, exc: KubeError | None) -> str:
    code = f" ({exc.status} {exc.reason})" if exc is not None else ""
    return f"the member API server refused the credentials in {secret}{code}; rotate them with `bizdomain join`"


def log_pass(name: str, report: ClusterReport, previous: ClusterReport | None, elapsed: float) -> None:
    """A line when the member's state changed, one per tenant that something was done to, and timing."""
    if previous is None or previous.ok != report.ok or previous.reason != report.reason:
        level = logging.INFO if report.ok else logging.WARNING
        log.log(level, "cluster %s: %s %s", name, report.reason, report.message, extra={"cluster": name})
    for (domain, environment), tenant in report.tenants.items():
        changes = {a: len(getattr(tenant, a)) for a in ACTIONS}
        if any(changes.values()):
            done = ", ".join(f"{a} {n}" for a, n in changes.items() if n)
            extra = {"cluster": name, "domain": domain, "environment": environment}
            log.info("cluster %s: %s/%s: %s", name, domain, environment, done, extra=extra)
    log.debug("cluster %s: pass took %.3fs, %d writes", name, elapsed, report.writes, extra={"cluster": name})
