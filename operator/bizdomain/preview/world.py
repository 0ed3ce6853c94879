"""The host before and after a change, as the planner's :class:`~bizdomain.plan.World`.

Called by :mod:`bizdomain.preview.command`. The *base* is what the host holds now (read from the
live host, or from files of the base revision, or nothing); the *target* is the base with the
files applied over it, the way Argo CD or ``kubectl apply`` would apply them (``prune``: objects of
the base that no file holds are deleted, as ``prune: true`` does: marked for deletion, as the
operator's finalizers hold them until every member is cleaned; a live host's MemberClusters stay
when no file holds any, base files' do not). Both go through the operator's own parsing (:mod:`bizdomain.records`) and
quarantine (:func:`bizdomain.plan.host.quarantine`), so the planner sees exactly what it would see.

What only the API server would assign is filled in so that the planner's rules still hold: an
object the host already has keeps its uid and creation time; a new one sorts after every existing
one (it is created later, so its namespace claims are younger); a domain whose uid is unknown
(files only) gets ``<uid:NAME>`` in both worlds. A domain's host namespace that does not exist yet is
taken as the operator's (it creates it for the domain); one that exists and is someone else's stays
a conflict, and its bindings are frozen, as the operator would freeze them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan import World
from bizdomain.plan.host import host_labels, quarantine
from bizdomain.records import binding_record, domain_record, host_namespace_record, member_record

JSON = dict[str, Any]
Key = tuple[str, str, str]  # kind, namespace ("" when cluster-scoped), name
LATER = "9999-12-31T23:59:59Z"  # the creation time of what a change creates: after everything there
DELETED = "9999-12-31T23:59:59Z"  # the deletion mark of what a change deletes (``--prune``)


def placeholder_uid(name: str, kind: str = names.KIND_DOMAIN, namespace: str | None = None) -> str:
    """A stand-in for the uid the API server gives: ``<uid:payments>`` for a domain (it appears on
    the namespaces and Workspaces made for it), the kind and path for the others."""
    if kind == names.KIND_DOMAIN:
        return f"<uid:{name}>"
    return f"<uid:{kind}/{namespace}/{name}>" if namespace else f"<uid:{kind}/{name}>"


def key(obj: JSON) -> Key:
    meta = obj["metadata"]
    return (str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


@dataclass
class HostObjects:
    """Host objects as bodies, by key; ``namespaces`` is None when the host was not read."""

    objects: dict[Key, JSON] = field(default_factory=dict)
    namespaces: dict[str, JSON] | None = None

    @classmethod
    def of(cls, objects: Iterable[JSON], namespaces: dict[str, JSON] | None = None) -> HostObjects:
        return cls({key(o): o for o in objects}, namespaces)

    def kind(self, kind: str) -> list[JSON]:
        return [o for k, o in self.objects.items() if k[0] == kind]


def target(base: HostObjects, files: Iterable[JSON], *, prune: bool, keep_members: bool = True) -> HostObjects:
    """The host after ``files`` are applied over ``base``; each file object keeps the identity
    (uid, creation time, generation) of the base object it replaces. ``keep_members``: with
    ``prune``, the base's MemberClusters stay when no file holds any (they come from the live
    host, not from the files); base files are pruned of them like of the rest."""
    files = list(files)
    merged: dict[Key, JSON] = {}
    file_kinds = {o["kind"] for o in files}
    for k, obj in base.objects.items():
        kept = keep_members and k[0] == names.KIND_MEMBER and names.KIND_MEMBER not in file_kinds
        if not prune or kept:
            merged[k] = obj
        else:  # deleted: the operator's finalizer holds it, marked, until every member is cleaned by policy
            merged[k] = _deleting(obj)
    for obj in files:
        k = key(obj)
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        old = base.objects.get(k)
        if old is not None:
            old_meta = old["metadata"]
            for field_ in ("uid", "creationTimestamp", "deletionTimestamp"):
                if field_ in old_meta:
                    meta[field_] = old_meta[field_]
            generation = int(old_meta.get("generation") or 1)
            meta["generation"] = generation if old.get("spec") == new.get("spec") else generation + 1
            if names.ANNOTATION_ADOPT_UIDS in (old_meta.get("annotations") or {}):
                # adopt-uids is a platform admin's annotation: a file that does not name it keeps it
                annotations = meta.setdefault("annotations", {})
                annotations.setdefault(
                    names.ANNOTATION_ADOPT_UIDS, old_meta["annotations"][names.ANNOTATION_ADOPT_UIDS]
                )
        else:
            meta.setdefault("creationTimestamp", LATER)
            meta.setdefault("generation", 1)
        merged[k] = new
    return HostObjects(merged, base.namespaces)


def _deleting(obj: JSON) -> JSON:
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return obj
    return {**obj, "metadata": {**meta, "deletionTimestamp": DELETED}}


def changed(before: HostObjects, after: HostObjects) -> list[Key]:
    """The host objects ``after`` adds, removes or changes over ``before``: in what the operator reads
    (spec, labels, the adopt-uids annotation, the deletion mark), not what the server or kopf add."""

    def what(obj: JSON) -> tuple[Any, ...]:
        meta = obj.get("metadata") or {}
        adopts = (meta.get("annotations") or {}).get(names.ANNOTATION_ADOPT_UIDS)
        return (obj.get("spec"), meta.get("labels") or {}, adopts, bool(meta.get("deletionTimestamp")))

    keys = before.objects.keys() | after.objects.keys()
    return sorted(
        k
        for k in keys
        if k not in before.objects or k not in after.objects or what(before.objects[k]) != what(after.objects[k])
    )


def _identity(obj: JSON) -> JSON:
    """``obj`` with a uid (a placeholder for a domain the files alone describe) and a creation time."""
    meta = obj["metadata"]
    if meta.get("uid") and meta.get("creationTimestamp"):
        return obj
    obj = {**obj, "metadata": dict(meta)}
    obj["metadata"].setdefault("creationTimestamp", "")
    if not obj["metadata"].get("uid"):
        obj["metadata"]["uid"] = placeholder_uid(meta["name"], obj["kind"], meta.get("namespace"))
    return obj


def world(host: HostObjects, settings: Settings) -> World:
    """The planner's view of ``host``, parsed and quarantined as the operator's runtime does."""
    domains = {o["metadata"]["name"]: domain_record(_identity(o)) for o in host.kind(names.KIND_DOMAIN)}
    bindings = {}
    for obj in host.kind(names.KIND_BINDING):
        record = binding_record(_identity(obj))
        bindings[record.key] = record
    members = {o["metadata"]["name"]: member_record(_identity(o)) for o in host.kind(names.KIND_MEMBER)}
    namespaces = {}
    for domain in domains.values():
        name = settings.domain_namespace(domain.name)
        live = (host.namespaces or {}).get(name)
        if live is None:  # not there yet: the operator creates it, for this domain
            labels = {**host_labels(domain.name), names.LABEL_DOMAIN_UID: domain.uid}
            live = {"metadata": {"name": name, "labels": labels, "creationTimestamp": domain.created}}
        namespaces[name] = host_namespace_record(live)
    return quarantine(World(domains=domains, bindings=bindings, members=members, host_namespaces=namespaces), settings)
