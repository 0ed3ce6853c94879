"""Converge one cluster on its plan: carry out what :func:`bizdomain.decide.decide` decided.

Called by the runtime's cluster workers. The pure decide step says what to create, apply,
delete and release (and why); this module only does it. Every write is a server-side apply
under one field manager, except namespaces, which are created with a plain create so that
one made by someone else meanwhile is a conflict, never adopted. A steady state makes no
write at all (decide compares the plan with the member's view, :mod:`bizdomain.sync.view`).
It fails closed: when the view of any kind cannot be trusted (a list failed, a watch broke),
nothing is applied or deleted on that cluster in that pass. Deletes carry uid and
resourceVersion preconditions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bizdomain import metrics, names
from bizdomain.concurrency import each
from bizdomain.config import Settings
from bizdomain.decide import Apply, Decision, Prune, decide
from bizdomain.members.rest import JSON, Kube, KubeError
from bizdomain.plan import ClusterPlan, Desired, Problem
from bizdomain.plan.budget import fold_used
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH, Key
from bizdomain.plan.roles import desired_platform_roles
from bizdomain.report import ClusterReport, TenantOutcome, failure_reason
from bizdomain.sync.kept import kept_on_member, quota_figures
from bizdomain.sync.release import READOPT_PATCH, released_patch
from bizdomain.sync.view import MANAGED, TENANT_KINDS, MemberView
from bizdomain.sync.workspaces import workspace_statuses

log = logging.getLogger(__name__)

__all__ = ["MANAGED", "TENANT_KINDS", "ClusterReport", "ClusterSync", "TenantOutcome", "sync_cluster"]


def _describe(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


class ClusterSync:
    """One pass over one cluster. Create, call :meth:`run`, read the report.

    Both kinds of pass compare the plan with the member's view (see :mod:`bizdomain.sync.view`),
    which watches keep current; a full pass also checks the member answers and converges the
    platform objects. With ``scope`` (a set of domains) the pass is partial: it converges and
    prunes only those domains' objects. A change to one domain then costs its writes and no
    read at all.
    """

    def __init__(
        self,
        kube: Kube,
        plan: ClusterPlan,
        settings: Settings,
        *,
        scope: frozenset[str] | None = None,
        skip: Callable[[str], bool] | None = None,
        view: MemberView | None = None,
    ) -> None:
        self.kube = kube
        self.view = view if view is not None else MemberView(kube, watch=False)
        self._skip = skip
        self.plan = plan.scoped(scope) if scope is not None else plan
        self.scope = scope
        self.settings = settings
        self.report = ClusterReport(cluster=plan.cluster, ok=True)
        self._lost: set[str] = set()  # namespaces someone else created under our feet this pass
        self.live: dict[Key, JSON] = {}
        self.namespaces: dict[str, JSON] = {}
        self._desired: dict[Key, Desired] = {d.key: d for d in self.plan.platform}
        for tenant in self.plan.tenants.values():
            self._desired.update((d.key, d) for d in tenant.objects)

    async def run(self) -> ClusterReport:
        try:
            if self.scope is None and not await self._crd_established():  # also tells a member that stopped answering
                return self._not_installed(f"the Workspace CRD {self.plan.crd.name} is not established")
            # A domain the partial lane holds is skipped by this whole pass, and what that lane expects stays.
            left = [d.key for t in self.plan.tenants.values() if self._skipped(t.domain) for d in t.objects]
            self.view.expect(self._desired.values(), replace=self.scope is None, keep=left)
            await self.view.ready(self.settings.relist_seconds)
        except KubeError as exc:
            self.report.ok = False
            self.report.reason = failure_reason(exc.status, exc.unreachable)
            self.report.message = f"listing objects failed, nothing applied or pruned: {exc}"
            return self.report
        self.namespaces = self.view.namespaces()
        self.live = self.view.managed(self.scope)
        roles = self.live if self.scope is None else self.view.managed()  # a partial plan holds no roles
        missing = [d.name for d in desired_platform_roles() if d.key not in roles]
        if missing:
            return self._not_installed(f"the ClusterRoles {', '.join(missing)} are missing")
        decision = decide(self.plan, self.namespaces, self.live, self.settings)
        self.plan = decision.plan
        self._record(decision)
        await self._apply_all(decision.applies)
        await self._prune(decision.prunes)
        await self._workspace_statuses()
        for key in [k for k in self.report.tenants if k[0] in self.report.skipped]:
            del self.report.tenants[key]
        return self.report

    def _skipped(self, domain: str) -> bool:
        """Whether ``domain`` changed after this pass planned it (checked right before each write)."""
        if self._skip is not None and (domain in self.report.skipped or self._skip(domain)):
            self.report.skipped.add(domain)
            return True
        return False

    async def _crd_established(self) -> bool:
        """Whether the member serves the Workspace CRD (``bizdomain join`` installs it; the operator cannot)."""
        live = await self.kube.get(self.plan.crd.kind, self.plan.crd.name)
        conditions = ((live or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    def _not_installed(self, what: str) -> ClusterReport:
        """The platform objects join installs are missing: nothing is applied or pruned on this member."""
        self.report.ok = False
        self.report.reason = names.Reason.PLATFORM_NOT_INSTALLED
        self.report.message = f"{what}; nothing applied or pruned: run `bizdomain join` for this member"
        return self.report

    def _record(self, decision: Decision) -> None:
        budgeted = decision.plan.budgeted
        figures = quota_figures(decision, self.view.quota_statuses()) if budgeted else {}
        self.report.kept = kept_on_member(decision, self.namespaces, figures, self.settings)
        for tenant in decision.plan.tenants.values():
            outcome = self.report.tenant(tenant.key)
            outcome.problems.extend(tenant.problems)
            outcome.namespaces = list(tenant.namespaces)
            outcome.generations = tenant.generations
            outcome.frozen = tenant.frozen
            if tenant.domain in budgeted:  # only a budget shows them
                outcome.quota_hard, outcome.quota_used = fold_used(figures.get(ns) for ns in tenant.namespaces)

    async def _apply_all(self, applies: list[Apply]) -> None:
        # Cluster-scoped objects (and namespaces) first, then what lives inside them.
        first = [a for a in applies if a.desired.namespace is None]
        second = [a for a in applies if a.desired.namespace is not None]
        await each(first, self._apply_one, self.settings.member_concurrency)
        second = [a for a in second if a.desired.namespace not in self._lost]
        await each(second, self._apply_one, self.settings.member_concurrency)

    async def _apply_one(self, action: Apply) -> None:
        desired, tenant = action.desired, action.tenant
        if tenant is not None and self._skipped(tenant[0]):
            return
        live = self.live.get(desired.key)
        outcome = self.report.tenant(tenant) if tenant else None
        what = _describe(desired.key)
        try:
            if action.create:
                answer = await self.kube.create_manifest(desired.kind, desired.namespace, desired.raw)
            elif desired.kind == "Namespace" and self._released(desired.name):
                # Managed again first, then no longer released (the member's policy wants one or the other).
                await self.kube.apply_manifest(desired.kind, desired.name, desired.namespace, desired.raw)
                answer = await self.kube.merge_patch("Namespace", desired.name, None, READOPT_PATCH)
            else:
                answer = await self.kube.apply_manifest(desired.kind, desired.name, desired.namespace, desired.raw)
            self.view.seen(answer)
        except KubeError as exc:
            if action.create and exc.status == 409 and outcome is not None:
                # Made by someone else since the view saw the member: theirs, never adopted.
                self._lost.add(desired.name)
                outcome.namespaces = [n for n in outcome.namespaces if n != desired.name]
                outcome.problems.append(
                    Problem(
                        names.Reason.NAMESPACE_CONFLICT,
                        f"namespace {desired.name!r} on cluster {self.plan.cluster!r} was created by someone else; "
                        "it is left untouched",
                    )
                )
                return
            log.warning("cluster %s: applying %s failed: %s", self.plan.cluster, what, exc, extra=self._ctx(tenant))
            if outcome is None:
                self.report.ok = False
                self.report.reason = names.Reason.SYNC_FAILED
                self.report.message = f"applying {what} failed: {exc.status} {exc.reason}: {exc.message}"
            else:
                outcome.ok = False
                outcome.errors.append(f"applying {what} failed: {exc.status} {exc.reason}: {exc.message}")
            return
        self.report.writes += 1
        if live is None:
            verb = "created"
        else:
            old_hash = (live["metadata"].get("annotations") or {}).get(ANNOTATION_SPEC_HASH)
            new_hash = desired.spec_hash
            verb = "updated" if old_hash != new_hash else "corrected"
        metrics.OBJECTS.labels(self.plan.cluster, desired.kind, verb).inc()
        if outcome is not None:
            getattr(outcome, verb).append(what)

    def _released(self, namespace: str) -> bool:
        live = self.namespaces.get(namespace)
        return live is not None and (live["metadata"].get("labels") or {}).get(names.LABEL_RELEASED) == "true"

    def _ctx(self, tenant: tuple[str, str] | None) -> dict[str, str]:
        """Context for structured logs: the cluster, and the tenant when there is one."""
        ctx = {"cluster": self.plan.cluster}
        if tenant is not None:
            ctx.update(domain=tenant[0], environment=tenant[1])
        return ctx

    async def _prune(self, prunes: list[Prune]) -> None:
        # Objects inside namespaces first, namespaces last.
        inner = [p for p in prunes if p.key[0] != "Namespace"]
        spaces = [p for p in prunes if p.key[0] == "Namespace"]
        for batch in (inner, spaces):
            await each(batch, self._prune_one, self.settings.member_concurrency)

    async def _prune_one(self, prune: Prune) -> None:
        key, obj, tenant_key = prune.key, prune.live, prune.tenant
        what = _describe(key)
        if tenant_key is not None and self._skipped(tenant_key[0]):
            return
        outcome = self.report.tenant(tenant_key) if tenant_key else None
        try:
            if prune.release:
                answer = await self.kube.merge_patch("Namespace", key[2], None, released_patch(obj))
                self.view.seen(answer)
                action = "released"
            else:
                await self._delete(key, obj)
                action = "pruned"
        except KubeError as exc:
            log.warning("cluster %s: pruning %s failed: %s", self.plan.cluster, what, exc, extra=self._ctx(None))
            if tenant_key:
                self.report.leftovers.add(tenant_key)
            if outcome is not None:
                outcome.ok = False
                outcome.errors.append(f"pruning {what} failed: {exc.status} {exc.reason}: {exc.message}")
            return
        self.report.writes += 1
        metrics.OBJECTS.labels(self.plan.cluster, key[0], action).inc()
        if outcome is not None:
            getattr(outcome, action).append(what)

    async def _delete(self, key: Key, obj: JSON) -> None:
        """Delete exactly the object the pass judged: same uid, unchanged since it was seen."""
        meta = obj["metadata"]
        await self.kube.delete(
            key[0], key[2], key[1], uid=meta.get("uid"), resource_version=meta.get("resourceVersion")
        )
        self.view.gone(key)

    async def _workspace_statuses(self) -> None:
        """Tell member-cluster users, on each Workspace, whether the footprint is complete."""
        writes = workspace_statuses(self.plan, self.report, self.live, skipped=self._skipped)
        await each(writes, self._write_status, self.settings.member_concurrency)

    async def _write_status(self, body: JSON) -> None:
        try:
            self.view.seen(await self.kube.apply(body, subresource="status"))
            self.report.writes += 1
        except KubeError as exc:
            log.warning("cluster %s: writing Workspace status failed: %s", self.plan.cluster, exc)


async def sync_cluster(
    kube: Kube,
    plan: ClusterPlan,
    settings: Settings,
    *,
    scope: frozenset[str] | None = None,
    skip: Callable[[str], bool] | None = None,
    view: MemberView | None = None,
) -> ClusterReport:
    """One pass (full, or only ``scope``'s domains): the report says what was done, per tenant.

    ``skip(domain)`` is asked right before each write: a domain it names is left alone from then on.
    ``view`` is the member's view, kept across passes (a throwaway one lists every kind).
    """
    return await ClusterSync(kube, plan, settings, scope=scope, skip=skip, view=view).run()
