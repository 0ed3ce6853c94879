"""kopf bodies in, planner records out: where raw dicts are parsed into typed models, once.

Called by the index handlers in :mod:`bizdomain.handlers` (with the runtime's :class:`SpecCache`);
a spec that fails to parse becomes a record carrying the error, which freezes that tenant and is
reported in status. :class:`ChangeFilter` tells the event handlers which events change what the
operator acts on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bizdomain import names
from bizdomain.api import BusinessDomainSpec, EnvironmentBindingSpec, MemberClusterSpec
from bizdomain.api.sandbox import SandboxSpec
from bizdomain.plan import BindingRecord, DomainRecord, HostNamespaceRecord, MemberRecord
from bizdomain.plan.inputs import SandboxRecord

M = TypeVar("M", bound=BaseModel)


def _error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"spec.{where}: {first['msg']}{more}"


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = body.get("metadata", {})
    return meta


class SpecCache:
    """The spec last parsed per object, and what it parsed to: owned by the runtime, passed in.

    Most watch events are status writes: the spec is the same, so it is not parsed again, and the
    record keeps the same spec object (which the planner's memo then recognises at once).
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self._parsed: dict[tuple[type[BaseModel], str], tuple[dict[str, Any], Any, str | None]] = {}

    def __len__(self) -> int:
        return len(self._parsed)

    def parse(self, model: type[M], body: Mapping[str, Any]) -> tuple[M | None, str | None]:
        """``body``'s spec as ``model`` (or None and why not), parsed once per object and spec."""
        raw = dict(body.get("spec") or {})
        uid = str(_meta(body).get("uid") or "")
        hit = self._parsed.get((model, uid)) if uid else None
        if hit is not None and hit[0] == raw:
            return hit[1], hit[2]
        spec, error = _parse(model, raw)
        if uid:
            if len(self._parsed) > self.LIMIT:
                self._parsed.clear()
            self._parsed[(model, uid)] = (raw, spec, error)
        return spec, error


def _parse(model: type[M], raw: dict[str, Any]) -> tuple[M | None, str | None]:
    try:
        return model.model_validate(raw), None
    except ValidationError as exc:
        return None, _error(exc)


def _common(model: type[BaseModel], body: Mapping[str, Any], specs: SpecCache | None) -> dict[str, Any]:
    """The fields every record has: identity, the parsed spec (or its error), deletion, status."""
    meta = _meta(body)
    spec, error = specs.parse(model, body) if specs is not None else _parse(model, dict(body.get("spec") or {}))
    return {
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "generation": int(meta.get("generation", 0)),
        "spec": spec,
        "error": error,
        "deleting": bool(meta.get("deletionTimestamp")),
        "status": dict(body.get("status") or {}),
    }


def domain_record(body: Mapping[str, Any], specs: SpecCache | None = None) -> DomainRecord:
    meta = _meta(body)
    adopts = (meta.get("annotations") or {}).get(names.ANNOTATION_ADOPT_UIDS, "")
    return DomainRecord(
        created=meta.get("creationTimestamp", ""),
        adopts=tuple(u.strip() for u in adopts.split(",") if u.strip()),
        **_common(BusinessDomainSpec, body, specs),
    )


def binding_record(body: Mapping[str, Any], specs: SpecCache | None = None) -> BindingRecord:
    meta = _meta(body)
    common = _common(EnvironmentBindingSpec, body, specs)
    return BindingRecord(namespace=meta["namespace"], created=meta.get("creationTimestamp", ""), **common)


def member_record(body: Mapping[str, Any], specs: SpecCache | None = None) -> MemberRecord:
    labels = dict(_meta(body).get("labels") or {})
    return MemberRecord(labels=labels, **_common(MemberClusterSpec, body, specs))


def host_namespace_record(body: Mapping[str, Any]) -> HostNamespaceRecord:
    """A host namespace as the trust check reads it (see :func:`bizdomain.plan.host_namespace_state`)."""
    meta = _meta(body)
    return HostNamespaceRecord(
        name=meta["name"],
        uid=meta.get("uid", ""),
        labels=dict(meta.get("labels") or {}),
        created=meta.get("creationTimestamp", ""),
        deleting=bool(meta.get("deletionTimestamp")),
    )


class ChangeFilter:
    """What the operator last acted on per host object: owned by the runtime, asked by the event handlers.

    An event matters when it changes the uid (the object was made again: its deletion may have been
    missed), the generation (the spec), the deletion mark, the labels or the platform's adopt-uids
    annotation, or deletes the object; status writes (the operator's own, mostly) do not.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str | None, str], tuple[Any, ...]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def changed(self, kind: str, body: Mapping[str, Any], event_type: str | None) -> bool:
        """Whether this event changed what the operator acts on (and remember it)."""
        meta = _meta(body)
        key = (kind, meta.get("namespace"), meta.get("name", ""))
        if event_type == "DELETED":
            self._seen.pop(key, None)
            return True
        fingerprint = (
            meta.get("uid"),
            (meta.get("annotations") or {}).get(names.ANNOTATION_ADOPT_UIDS),
            meta.get("generation"),
            bool(meta.get("deletionTimestamp")),
            tuple(sorted((meta.get("labels") or {}).items())),
        )
        if self._seen.get(key) == fingerprint:
            return False
        self._seen[key] = fingerprint
        return True


def sandbox_record(body: Mapping[str, Any], specs: SpecCache | None = None) -> SandboxRecord:
    meta = _meta(body)
    common = _common(SandboxSpec, body, specs)
    return SandboxRecord(namespace=meta["namespace"], created=meta.get("creationTimestamp", ""), **common)
