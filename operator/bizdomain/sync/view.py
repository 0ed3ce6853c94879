"""What the operator knows of one member's objects: listed, then kept current by watches.

One :class:`MemberView` per member cluster holds a compact entry per object of every kind a
pass touches (identity, labels, annotations, resourceVersion) plus a verdict taken when the
object arrived, from a list page, a watch event or an apply's answer: "holds the desired
object with spec-hash H". A pass then compares thousands of objects without a request and
without keeping them whole, and a change to one domain costs its writes and nothing else.

Every kind is listed when the first full pass starts the view, and again every
``relist_seconds`` (in place, keeping what a watch brought that is newer), which re-checks
the view against the server and notices lost rights; between, watches keep it current, so
a steady state costs no read at all. A failed list leaves the kind *stale*, and a pass over
a stale view fails closed (the engine applies and prunes nothing). A watch that breaks
makes its kind stale until it resumes or the next pass relists it; one whose
resourceVersion expired (410) relists at once. Deletes take the entry's resourceVersion as a
precondition, so a view that lags can never delete an object that changed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable

from bizdomain import names
from bizdomain.decide import IN_SYNC
from bizdomain.members.rest import JSON, Kube, KubeError
from bizdomain.plan import Desired
from bizdomain.plan.attribution import drift_domain, namespaced_tenant_ok
from bizdomain.plan.budget import QUOTA_SPEC_HARD, QUOTA_STATUS
from bizdomain.plan.objects import Key, key_of
from bizdomain.sync import entries
from bizdomain.sync.entries import Interner

log = logging.getLogger(__name__)

MANAGED = f"{names.LABEL_MANAGED_BY}={names.MANAGED_BY_VALUE}"
TENANT_KINDS = ("Workspace", "RoleBinding", "ResourceQuota", "LimitRange", "NetworkPolicy")
# kind -> label selector (None: every object; a project name taken by someone else must be seen).
VIEW_KINDS: dict[str, str | None] = {
    "Namespace": None,
    "ClusterRole": f"{MANAGED},{names.LABEL_COMPONENT}={names.COMPONENT_PLATFORM}",
    **dict.fromkeys(TENANT_KINDS, MANAGED),
}
WATCH_SECONDS = 300
WATCH_BACKOFF_MAX = 10.0


class ViewStale(KubeError):
    """The view of a kind cannot be trusted right now (never listed, list failed, watch broken)."""


class MemberView:
    """The compact, watch-fed view of one member cluster; the first :meth:`relist` (or
    :meth:`ready`) lists every kind and starts its watch."""

    def __init__(self, kube: Kube, *, drift: Callable[[str], None] | None = None, watch: bool = True) -> None:
        self.kube = kube
        self.watching = watch
        self.cluster = kube.cluster
        self._drift = drift
        self._objects: dict[str, dict[Key, JSON]] = {kind: {} for kind in VIEW_KINDS}
        self._desired: dict[Key, Desired] = {}
        self.planned = False  # whether a whole plan was expected yet (judging needs every desired object)
        self._listed_at: dict[str, float] = {}
        self._versions: dict[str, str] = {}  # kind -> resourceVersion its watch resumes from
        self._stale: dict[str, KubeError] = {
            kind: ViewStale(self.cluster, 0, "NotListed", f"{kind} not listed yet") for kind in VIEW_KINDS
        }
        self._tombstones: dict[Key, int | None] = {}
        self._shared = Interner()
        self._watches: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()

    # ---- what passes read ----------------------------------------------------------------

    def expect(self, desired: Iterable[Desired], *, replace: bool, keep: Iterable[Key] = ()) -> None:
        """What the plan wants, for judging objects as they arrive (``replace``: the whole plan, but
        what is expected of ``keep``, the objects of domains a full pass leaves to the partial lane,
        stays: that lane planned them from a newer spec)."""
        if replace:
            kept = {key: self._desired[key] for key in keep if key in self._desired}
            self._desired = {d.key: d for d in desired} | kept
            self.planned = True
        else:
            self._desired.update((d.key, d) for d in desired)

    def namespaces(self) -> dict[str, JSON]:
        return {key[2]: obj for key, obj in self._objects["Namespace"].items()}

    def quota_statuses(self) -> dict[str, JSON]:
        """namespace -> the ``hard`` and ``used`` of our ResourceQuota there: ``hard`` as its spec says
        (the member's quota controller may not have counted it yet), ``used`` as the member computed it."""
        out = {}
        for key, obj in self._objects.get("ResourceQuota", {}).items():
            if key[2] == names.QUOTA_NAME:
                status = obj.get(QUOTA_STATUS) or {}
                hard = obj.get(QUOTA_SPEC_HARD) or status.get("hard") or {}
                out[key[1] or ""] = {"hard": hard, "used": status.get("used") or {}}
        return out

    def managed(self, domains: frozenset[str] | None = None) -> dict[Key, JSON]:
        """Every object carrying our managed-by label (only ``domains``' when given), except a
        tenant object whose namespace belongs to another tenant than its labels claim: someone
        else made or relabelled it (see :mod:`bizdomain.plan.attribution`)."""
        out: dict[Key, JSON] = {}
        for objects in self._objects.values():
            for key, obj in objects.items():
                labels = obj["metadata"].get("labels") or {}
                if labels.get(names.LABEL_MANAGED_BY) != names.MANAGED_BY_VALUE:
                    continue
                if domains is not None and labels.get(names.LABEL_DOMAIN) not in domains:
                    continue
                if key[1] is not None and not namespaced_tenant_ok(labels, self._namespace_labels(key[1])):
                    continue
                out[key] = obj
        return out

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        entry = self._objects["Namespace"].get(("Namespace", None, namespace))
        if entry is None:
            return None
        labels: dict[str, str] = entry["metadata"].get("labels") or {}
        return labels

    def check(self) -> None:
        """Raise the reason the view cannot be trusted, if any."""
        for error in self._stale.values():
            raise error

    # ---- what passes write ---------------------------------------------------------------

    def seen(self, obj: JSON) -> None:
        """An object as the server returned it (an apply's answer), judged again even when the
        server changed nothing (same resourceVersion): the plan may have moved since it arrived."""
        if obj.get("kind") in self._objects and obj.get("metadata"):
            self._store(obj, judge=True)

    def gone(self, key: Key) -> None:
        """An object the pass deleted."""
        self._objects.get(key[0], {}).pop(key, None)

    # ---- listing -------------------------------------------------------------------------

    async def ready(self, max_age: float | None = None) -> None:
        """Relist the kinds that are stale (or were listed more than ``max_age`` seconds ago);
        raise when that fails."""
        now = time.monotonic()
        old = [k for k, at in self._listed_at.items() if max_age is not None and now - at > max_age]
        todo = sorted(set(self._stale) | set(old))
        if todo:
            await self.relist(todo)
        self.check()

    async def relist(self, kinds: Iterable[str] | None = None) -> None:
        """List ``kinds`` (default: all) in place and (re)start their watches; raise when any list fails."""
        async with self._lock:
            todo = list(kinds) if kinds is not None else list(VIEW_KINDS)
            self._shared = Interner()  # label sets of objects long gone go too (entries keep theirs)
            results = await asyncio.gather(*(self._list(kind) for kind in todo), return_exceptions=True)
            self._tombstones.clear()
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _list(self, kind: str) -> None:
        listed: set[Key] = set()
        objects = self._objects[kind]

        def keep(item: JSON) -> None:
            key = key_of(item)
            if key in self._tombstones and (entries.version(item) or 0) <= (self._tombstones[key] or 0):
                return
            listed.add(key)
            was = objects.get(key)
            self._judge_edit(was, self._store(item, judge=True), item)

        try:
            version = await self.kube.list_version(kind, keep, label_selector=VIEW_KINDS[kind])
        except KubeError as exc:
            self._stale[kind] = exc
            raise
        at = int(version) if version.isdigit() else None
        for key in [k for k, obj in objects.items() if k not in listed]:
            newer = at is not None and (entries.version(objects[key]) or 0) > at
            if not newer:  # created after the list's snapshot (an apply's answer) stays
                self._judge_edit(objects.pop(key), None, None)
        self._versions[kind] = version
        self._listed_at[kind] = time.monotonic()
        self._stale.pop(kind, None)
        task = self._watches.get(kind)
        if self.watching and (task is None or task.done()):
            self._watches[kind] = asyncio.create_task(self._watch(kind), name=f"bizdomain-view-{self.cluster}-{kind}")

    # ---- watching ------------------------------------------------------------------------

    async def _watch(self, kind: str) -> None:
        backoff = 0.5
        while True:
            try:
                # Spread the reconnects, so the watches of many kinds never expire together.
                seconds = int(WATCH_SECONDS * random.uniform(0.8, 1.2))
                events = self.kube.watch(
                    kind,
                    resource_version=self._versions[kind],
                    label_selector=VIEW_KINDS[kind],
                    timeout_seconds=seconds,
                )
                async for type_, obj in events:
                    backoff = 0.5
                    if type_ == "ERROR":
                        code = int(obj.get("code") or 0)
                        raise KubeError(self.cluster, code, str(obj.get("reason", "")), str(obj.get("message", "")))
                    self._stale.pop(kind, None)
                    version = (obj.get("metadata") or {}).get("resourceVersion")
                    if type_ in ("ADDED", "MODIFIED", "DELETED"):
                        obj.setdefault("kind", kind)
                        self._event(type_, obj)
                    if version:
                        self._versions[kind] = str(version)
            except KubeError as exc:
                if exc.status == 410:  # the resourceVersion is too old: list afresh
                    log.info("cluster %s: watch of %s expired; relisting", self.cluster, kind)
                    try:
                        async with self._lock:
                            await self._list(kind)
                        continue
                    except KubeError as failed:
                        exc = failed
                self._stale[kind] = exc
                log.debug("cluster %s: watch of %s broke: %s", self.cluster, kind, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, WATCH_BACKOFF_MAX)

    def _event(self, type_: str, obj: JSON) -> None:
        key = key_of(obj)
        objects = self._objects[key[0]]
        if type_ == "DELETED":
            old = objects.get(key)
            if old is None or entries.newer(obj, old):
                objects.pop(key, None)
                self._tombstones[key] = entries.version(obj)
                if key in self._desired:
                    self._drifted(obj)
            return
        was = objects.get(key)
        self._judge_edit(was, self._store(obj), obj)

    def _judge_edit(self, was: JSON | None, entry: JSON | None, obj: JSON | None) -> None:
        """Report drift when an object the plan wants was in sync with it and no longer is (``obj``
        is its new state, None when a relist no longer finds it), and not because the plan moved
        on: a hand edit, whether a watch event or a relist (after a watch expired) brings it."""
        if was is None or was.get(IN_SYNC) is None or (obj is not None and (entry is None or entry.get(IN_SYNC))):
            return
        desired = self._desired.get(key_of(was))
        if desired is not None and desired.spec_hash == was.get(IN_SYNC):
            self._drifted(obj if obj is not None else was)

    def _drifted(self, obj: JSON) -> None:
        namespace = obj["metadata"].get("namespace")
        namespace_labels = self._namespace_labels(namespace) if namespace else None
        domain = drift_domain(obj["metadata"].get("labels") or {}, namespace_labels)
        if domain and self._drift is not None:
            self._drift(domain)

    def _store(self, obj: JSON, *, judge: bool = False) -> JSON | None:
        """Keep ``obj`` when it is newer than what is kept (or, with ``judge``, as new: a list
        re-judges every object against the plan of the moment)."""
        key = key_of(obj)
        objects = self._objects[key[0]]
        old = objects.get(key)
        if not entries.newer(obj, old) and not (judge and entries.version(obj) == entries.version(old or {})):
            return None
        entry = entries.compact(key, obj, self._desired.get(key), self._shared)
        objects[key] = entry
        return entry

    async def close(self) -> None:
        tasks = list(self._watches.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watches.clear()
