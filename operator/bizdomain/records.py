"""kopf bodies in, planner records out: where raw dicts are parsed into typed models, once.

Called by the index handlers in :mod:`bizdomain.handlers`; a spec that fails to parse
becomes a record carrying the error, which freezes that tenant and is reported in status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bizdomain.api import BusinessDomainSpec, EnvironmentBindingSpec, MemberClusterSpec
from bizdomain.plan import BindingRecord, DomainRecord, MemberRecord

M = TypeVar("M", bound=BaseModel)


def _error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "spec"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"spec.{where}: {first['msg']}{more}"


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = body.get("metadata", {})
    return meta


def _parse(model: type[M], body: Mapping[str, Any]) -> tuple[M | None, str | None]:
    try:
        return model.model_validate(dict(body.get("spec") or {})), None
    except ValidationError as exc:
        return None, _error(exc)


def domain_record(body: Mapping[str, Any]) -> DomainRecord:
    meta = _meta(body)
    spec, error = _parse(BusinessDomainSpec, body)
    return DomainRecord(
        name=meta["name"],
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation", 0)),
        created=meta.get("creationTimestamp", ""),
        spec=spec,
        error=error,
        deleting=bool(meta.get("deletionTimestamp")),
        status=dict(body.get("status") or {}),
    )


def binding_record(body: Mapping[str, Any]) -> BindingRecord:
    meta = _meta(body)
    spec, error = _parse(EnvironmentBindingSpec, body)
    return BindingRecord(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation", 0)),
        created=meta.get("creationTimestamp", ""),
        spec=spec,
        error=error,
        deleting=bool(meta.get("deletionTimestamp")),
        status=dict(body.get("status") or {}),
    )


def member_record(body: Mapping[str, Any]) -> MemberRecord:
    meta = _meta(body)
    spec, error = _parse(MemberClusterSpec, body)
    return MemberRecord(
        name=meta["name"],
        spec=spec,
        labels=dict(meta.get("labels") or {}),
        error=error,
        deleting=bool(meta.get("deletionTimestamp")),
        generation=int(meta.get("generation", 0)),
        status=dict(body.get("status") or {}),
        uid=meta.get("uid", ""),
    )
