"""Converge one cluster on its plan: apply what differs, prune what is ours and unwanted.

Called by the runtime's cluster workers. Every write is a server-side apply under one field
manager; a steady state makes no write at all, because each desired object is compared
with what the member's view holds first (see :mod:`bizdomain.sync.view` and
:func:`bizdomain.plan.needs_apply`). Pruning fails closed: when the view of any kind cannot
be trusted (a list failed, a watch broke), nothing is applied or deleted on that cluster in
that pass, and only objects carrying the operator's labels are ever candidates. Namespaces
are deleted only under a Delete policy recorded on the namespace itself; under Retain they
are released (our labels removed, workloads kept). The platform objects (bizdomain's four
ClusterRoles, the Workspace CRD) are installed by ``bizdomain join``, never written here: a pass
that finds them missing fails with PlatformNotInstalled and touches nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bizdomain import metrics, names
from bizdomain.concurrency import each
from bizdomain.config import Settings
from bizdomain.members.rest import JSON, Kube, KubeError
from bizdomain.plan import ClusterPlan, Desired, Problem, TenantPlan
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH
from bizdomain.plan.roles import desired_platform_roles
from bizdomain.sync.report import ClusterReport, TenantKey, TenantOutcome
from bizdomain.sync.view import MANAGED, TENANT_KINDS, Key, MemberView, in_sync
from bizdomain.sync.workspaces import now, workspace_statuses

log = logging.getLogger(__name__)

__all__ = ["MANAGED", "TENANT_KINDS", "ClusterReport", "ClusterSync", "TenantOutcome", "sync_cluster"]


def _key(obj: JSON) -> Key:
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace"), meta["name"])


def _labels(obj: JSON) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _tenant_of(obj: JSON) -> TenantKey | None:
    labels = _labels(obj)
    if labels.get(names.LABEL_MANAGED_BY) != names.MANAGED_BY_VALUE:
        return None
    if labels.get(names.LABEL_COMPONENT) != names.COMPONENT_TENANT:
        return None
    domain, environment = labels.get(names.LABEL_DOMAIN), labels.get(names.LABEL_ENVIRONMENT)
    return (domain, environment) if domain and environment else None


def _describe(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


class ClusterSync:
    """One pass over one cluster. Create, call :meth:`run`, read the report.

    Both kinds of pass compare the plan with the member's view (see :mod:`bizdomain.sync.view`),
    which watches keep current; a full pass also checks the member answers and that the platform
    objects are installed. With ``scope`` (a set of domains) the pass is partial: it converges and
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
        self.live: dict[Key, JSON] = {}
        self.namespaces: dict[str, JSON] = {}
        self._desired: dict[Key, Desired] = {d.key: d for d in self.plan.platform}
        for tenant in self.plan.tenants.values():
            self._desired.update((d.key, d) for d in tenant.objects)

    async def run(self) -> ClusterReport:
        try:
            if self.scope is None and not await self._crd_established():  # also tells a member that stopped answering
                return self._not_installed(f"the Workspace CRD {self.plan.crd.name} is not established")
            self.view.expect(self._desired.values(), replace=self.scope is None)
            await self.view.ready(self.settings.relist_seconds)
        except KubeError as exc:
            self.report.ok = False
            self.report.reason = names.Reason.CLUSTER_UNREACHABLE if exc.unreachable else names.Reason.SYNC_FAILED
            if exc.status == 401:
                self.report.reason = names.Reason.CREDENTIALS_INVALID
            self.report.message = f"listing objects failed, nothing applied or pruned: {exc}"
            return self.report
        self.namespaces = self.view.namespaces()
        self.live = self.view.managed(self.scope)
        roles = self.live if self.scope is None else self.view.managed()  # a partial plan holds no roles
        missing = [d.name for d in desired_platform_roles() if d.key not in roles]
        if missing:
            return self._not_installed(f"the ClusterRoles {', '.join(missing)} are missing")
        self._claim_namespaces()
        await self._apply_all()
        await self._prune()
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

    def _claim_namespaces(self) -> None:
        """Drop from each tenant the namespaces that exist and are not ours to manage."""
        for tenant in self.plan.tenants.values():
            if tenant.frozen:
                continue
            for namespace in list(tenant.namespaces):
                live = self.namespaces.get(namespace)
                if live is None:
                    continue
                labels = _labels(live)
                mine = labels.get(names.LABEL_DOMAIN) == tenant.domain and (
                    labels.get(names.LABEL_RELEASED) == "true"
                    or (
                        labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY_VALUE
                        and labels.get(names.LABEL_ENVIRONMENT) == tenant.environment
                    )
                )
                if live["metadata"].get("deletionTimestamp"):
                    tenant.drop_namespace(
                        namespace,
                        Problem(names.Reason.PROGRESSING, f"namespace {namespace!r} is still terminating"),
                    )
                elif not mine:
                    tenant.drop_namespace(
                        namespace,
                        Problem(
                            names.Reason.NAMESPACE_CONFLICT,
                            f"namespace {namespace!r} already exists on cluster {self.plan.cluster!r} and was not "
                            f"created by bizdomain for domain {tenant.domain!r}; it is left untouched",
                        ),
                    )

    async def _apply_all(self) -> None:
        tenants = [(t, d) for t in self.plan.tenants.values() for d in t.objects]
        # Cluster-scoped objects (and namespaces) first, then what lives inside them.
        first = [(t, d) for t, d in tenants if d.namespace is None]
        second = [(t, d) for t, d in tenants if d.namespace is not None]
        for tenant in self.plan.tenants.values():
            outcome = self.report.tenant(tenant.key)
            outcome.problems.extend(tenant.problems)
            outcome.namespaces = list(tenant.namespaces)
            outcome.generations = tenant.generations
            outcome.frozen = tenant.frozen
        for batch in (first, second):
            # Only what differs gets a task: a steady pass over thousands of objects spawns none.
            todo = [(t, d) for t, d in batch if self._differs(d)]
            await each(todo, lambda job: self._apply_one(*job), self.settings.member_concurrency)

    def _differs(self, desired: Desired) -> bool:
        return not in_sync(desired, self.live.get(desired.key))

    async def _apply_one(self, tenant: TenantPlan | None, desired: Desired) -> None:
        if tenant is not None and self._skipped(tenant.domain):
            return
        live = self.live.get(desired.key)
        outcome = self.report.tenant(tenant.key) if tenant else None
        what = _describe(desired.key)
        try:
            self.view.seen(await self.kube.apply_manifest(desired.kind, desired.name, desired.namespace, desired.raw))
        except KubeError as exc:
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
            action = "created"
        else:
            old_hash = (live["metadata"].get("annotations") or {}).get(ANNOTATION_SPEC_HASH)
            new_hash = desired.spec_hash
            action = "updated" if old_hash != new_hash else "corrected"
        metrics.OBJECTS.labels(self.plan.cluster, desired.kind, action).inc()
        if outcome is not None:
            getattr(outcome, action).append(what)

    def _ctx(self, tenant: TenantPlan | None) -> dict[str, str]:
        """Context for structured logs: the cluster, and the tenant when there is one."""
        ctx = {"cluster": self.plan.cluster}
        if tenant is not None:
            ctx.update(domain=tenant.domain, environment=tenant.environment)
        return ctx

    def _wanted(self) -> set[Key]:
        keys = {d.key for d in self.plan.platform}
        for tenant in self.plan.tenants.values():
            keys.update(d.key for d in tenant.objects)
        return keys

    def _policy(self, tenant_key: TenantKey, namespace: JSON) -> str:
        tenant = self.plan.tenants.get(tenant_key)
        if tenant is not None:
            return tenant.deletion_policy
        recorded = (namespace["metadata"].get("annotations") or {}).get(names.ANNOTATION_DELETION_POLICY)
        return "Delete" if recorded == "Delete" else "Retain"

    async def _prune(self) -> None:
        wanted = self._wanted()
        frozen = self.plan.frozen
        doomed: list[tuple[TenantKey | None, JSON]] = []
        for key, obj in self.live.items():
            if key in wanted:
                continue
            tenant_key = _tenant_of(obj)
            if tenant_key is None:  # the platform ClusterRoles are join's, never the operator's to prune
                continue
            if tenant_key in frozen:
                continue
            doomed.append((tenant_key, obj))
        # Objects inside namespaces first, namespaces last.
        doomed.sort(key=lambda item: item[1]["kind"] == "Namespace")
        inner = [d for d in doomed if d[1]["kind"] != "Namespace"]
        spaces = [d for d in doomed if d[1]["kind"] == "Namespace"]
        for batch in (inner, spaces):
            await each(batch, lambda job: self._prune_one(*job), self.settings.member_concurrency)

    async def _prune_one(self, tenant_key: TenantKey | None, obj: JSON) -> None:
        key = _key(obj)
        what = _describe(key)
        if tenant_key is not None and self._skipped(tenant_key[0]):
            return
        outcome = self.report.tenant(tenant_key) if tenant_key else None
        try:
            if key[0] == "Namespace":
                name = key[2]
                if self.settings.is_protected_namespace(name):
                    log.error(
                        "cluster %s: refusing to prune protected namespace %s",
                        self.plan.cluster,
                        name,
                        extra=self._ctx(None),
                    )
                    return
                if obj["metadata"].get("deletionTimestamp"):
                    return
                assert tenant_key is not None
                if self._policy(tenant_key, obj) == "Delete":
                    await self._delete(key, obj)
                    action = "pruned"
                else:
                    self.view.seen(await self.kube.apply(_released(obj)))
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


def _released(namespace: JSON) -> JSON:
    """The apply that hands a namespace back: managed-by and our bookkeeping go, ownership labels stay."""
    meta = namespace["metadata"]
    labels = _labels(namespace)
    keep = {k: labels[k] for k in (names.LABEL_DOMAIN, names.LABEL_ENVIRONMENT, names.LABEL_PROJECT) if k in labels}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": meta["name"],
            "labels": {**keep, names.LABEL_RELEASED: "true"},
            "annotations": {names.ANNOTATION_RELEASED_AT: now()},
        },
    }


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
