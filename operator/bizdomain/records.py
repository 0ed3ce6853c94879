"""kopf bodies in, planner records out: where raw dicts are parsed into typed models, once.

Called by the index handlers in :mod:`bizdomain.handlers`; a spec that fails to parse
becomes a record carrying the error, which freezes that tenant and is reported in status.
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


# (model, uid) -> the spec last parsed for that object, and what it parsed to. Most watch events
# are status writes: the spec is the same, and so is the parsed model (the same object, so the
# planner's memo of each tenant still holds).
_parsed: dict[tuple[type[BaseModel], str], tuple[dict[str, Any], Any, str | None]] = {}


def _parse(model: type[M], body: Mapping[str, Any]) -> tuple[M | None, str | None]:
    raw = dict(body.get("spec") or {})
    uid = str(_meta(body).get("uid") or "")
    hit = _parsed.get((model, uid)) if uid else None
    if hit is not None and hit[0] == raw:
        return hit[1], hit[2]
    try:
        spec, error = model.model_validate(raw), None
    except ValidationError as exc:
        spec, error = None, _error(exc)
    if uid:
        if len(_parsed) > 100_000:
            _parsed.clear()
        _parsed[(model, uid)] = (raw, spec, error)
    return spec, error


def _common(model: type[BaseModel], body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every record has: identity, the parsed spec (or its error), deletion, status."""
    meta = _meta(body)
    spec, error = _parse(model, body)
    return {
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "generation": int(meta.get("generation", 0)),
        "spec": spec,
        "error": error,
        "deleting": bool(meta.get("deletionTimestamp")),
        "status": dict(body.get("status") or {}),
    }


def domain_record(body: Mapping[str, Any]) -> DomainRecord:
    meta = _meta(body)
    adopts = (meta.get("annotations") or {}).get(names.ANNOTATION_ADOPT_UIDS, "")
    return DomainRecord(
        created=meta.get("creationTimestamp", ""),
        adopts=tuple(u.strip() for u in adopts.split(",") if u.strip()),
        **_common(BusinessDomainSpec, body),
    )


def binding_record(body: Mapping[str, Any]) -> BindingRecord:
    meta = _meta(body)
    common = _common(EnvironmentBindingSpec, body)
    return BindingRecord(namespace=meta["namespace"], created=meta.get("creationTimestamp", ""), **common)


def member_record(body: Mapping[str, Any]) -> MemberRecord:
    labels = dict(_meta(body).get("labels") or {})
    return MemberRecord(labels=labels, **_common(MemberClusterSpec, body))


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


def sandbox_record(body: Mapping[str, Any]) -> SandboxRecord:
    meta = _meta(body)
    common = _common(SandboxSpec, body)
    return SandboxRecord(namespace=meta["namespace"], created=meta.get("creationTimestamp", ""), **common)
