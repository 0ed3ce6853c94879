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
    created = _meta(body).get("creationTimestamp", "")
    return DomainRecord(created=created, **_common(BusinessDomainSpec, body))


def binding_record(body: Mapping[str, Any]) -> BindingRecord:
    meta = _meta(body)
    common = _common(EnvironmentBindingSpec, body)
    return BindingRecord(namespace=meta["namespace"], created=meta.get("creationTimestamp", ""), **common)


def member_record(body: Mapping[str, Any]) -> MemberRecord:
    labels = dict(_meta(body).get("labels") or {})
    return MemberRecord(labels=labels, **_common(MemberClusterSpec, body))
