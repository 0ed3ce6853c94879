"""Types shared by the bizdomain CRDs: subjects, quantities, conditions, CEL rules.

The pydantic models in this package are the single source of truth for the CRD
schemas (see :mod:`bizdomain.api.crdgen`); admission-time rules are attached to them
as ``x-kubernetes-validations`` so the API server refuses bad objects before the
operator ever sees them, and the same models parse ``spec`` inside the operator.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A Kubernetes resource quantity (the API machinery's own grammar, without signs).
# As Kubernetes' own quantity parser reads it (a leading "+" included), less the negative sign: the
# CEL rule at admission (isQuantity, not below 0) and this parser must agree, or a spec the API
# server stored could not be parsed here, and an unparseable binding is held as it is.
QUANTITY = r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][-+]?[0-9]+))?$"
RESOURCE_NAME = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$"
_QUANTITY_RE = re.compile(QUANTITY)

_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip
# The largest quantity a spec may hold (2**63, the most Kubernetes' own int64 values hold): anything
# larger means nothing real, and summing or showing it (1e5000, 1e9999999) would raise in the planner.
MAX_QUANTITY = "8Ei"
_MAX_VALUE = Decimal(2**63)
# What parse_quantity reads at all (sums of bounded specs, what a member reports): digits before the point.
_MAX_DIGITS = 40


def rule(expression: str, message: str, *, field_path: str | None = None) -> dict[str, str]:
    """One CEL validation rule, as the API server evaluates it at admission."""
    out = {"rule": expression, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    return out


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def list_map(*keys: str) -> dict[str, Any]:
    """Mark a list of objects as a map keyed by ``keys``: the API server refuses duplicates."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


class ApiModel(BaseModel):
    """Base of every spec model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StatusModel(BaseModel):
    """Base of status models: camelCase, tolerant of fields a newer operator wrote."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


@functools.lru_cache(maxsize=4096)
def parse_quantity(value: str | int) -> Decimal:
    """The value of a Kubernetes quantity; ``ValueError`` for anything the API would refuse.

    Cached: every pass judges every budgeted tenant's quotas, and a platform writes few distinct values."""
    text = str(value).strip()
    if not _QUANTITY_RE.match(text):
        raise ValueError(f"{value!r} is not a valid Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    number, suffix = text, ""
    for binary in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"):
        if text.endswith(binary):
            number, suffix = text[: -len(binary)], binary
            break
    else:
        if text[-1] in "numkMGTPE":
            number, suffix = text[:-1], text[-1]
    parsed = Decimal(number)
    # Checked before any arithmetic, which would overflow on 1e9999999 (and 1e5000 cannot be shown).
    if parsed.adjusted() >= _MAX_DIGITS:
        raise ValueError(f"{value!r} is too large to be a quantity of anything (at most {_MAX_DIGITS} digits)")
    return parsed * _SUFFIXES[suffix]


def _quantity(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{value!r} is not a valid Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    if isinstance(value, int) and value < 0:
        raise ValueError(f"{value} is negative: quantities here must be zero or more")
    if parse_quantity(value) > _MAX_VALUE:
        raise ValueError(f"{value!r} is too large: quantities here are at most {MAX_QUANTITY}")
    return str(value)


Quantity = Annotated[
    str,
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "maxLength": 64,
            **validations(
                rule(
                    "type(self) == int ? self >= 0 : (isQuantity(self) && !quantity(self).isLessThan(quantity('0')))",
                    "must be a non-negative Kubernetes quantity such as 500m, 2 or 4Gi",
                ),
                rule(
                    "type(self) == int || !isQuantity(self) || "
                    f"!quantity(self).isGreaterThan(quantity('{MAX_QUANTITY}'))",
                    f"must be at most {MAX_QUANTITY}",
                ),
            ),
        }
    ),
]

ResourceName = Annotated[str, Field(pattern=RESOURCE_NAME, max_length=253)]
ResourceList = Annotated[dict[ResourceName, Quantity], Field(max_length=32)]
DnsLabel = Annotated[str, Field(pattern=DNS_LABEL, min_length=1, max_length=63)]
DeletionPolicy = Literal["Retain", "Delete"]


# The operator's namespace unless the platform names another (config.Settings.namespace); CEL can
# only know this one, so plan.subjects checks a configured one again.
DEFAULT_OPERATOR_NAMESPACE = "bizdomain-system"
_SUBJECT_NAMESPACE = "namespace is required for a ServiceAccount and not allowed for a User or Group"
_SUBJECT_SYSTEM_USER = "a User subject may not name a system: identity (those are Kubernetes' own users)"
_SUBJECT_SYSTEM_GROUP = (
    "a Group subject may not name a system: group (Kubernetes' own groups stand for whole classes of identities)"
)
_SUBJECT_CONTROL = (
    "a subject's name may not contain control characters (a newline or an escape could hide it in a review)"
)
_SUBJECT_SA_NAME = "a ServiceAccount's name must be a DNS subdomain (lower case letters, digits, '-' and '.')"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SA_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _system_sa(operator_namespace: str) -> str:
    return (
        "a ServiceAccount subject may not be in a kube-* namespace or the operator's namespace "
        f"({operator_namespace}): those are the cluster's and the operator's own identities"
    )


def subject_refusal(
    kind: str, name: str, namespace: str | None, operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE
) -> str | None:
    """Why a subject may never be granted tenant access (None if it may): the one rule behind the
    CEL rules of :class:`Subject`, its validator, and :func:`bizdomain.plan.subjects.subject_problems`."""
    if (kind == "ServiceAccount") != (namespace is not None):
        return _SUBJECT_NAMESPACE
    if _CONTROL.search(name):
        return _SUBJECT_CONTROL
    if kind == "ServiceAccount" and not _SA_NAME.match(name):
        return _SUBJECT_SA_NAME
    if kind == "User" and name.startswith("system:"):
        return _SUBJECT_SYSTEM_USER
    if kind == "Group" and name.startswith("system:"):
        return _SUBJECT_SYSTEM_GROUP
    if namespace is not None and (namespace.startswith("kube-") or namespace == operator_namespace):
        return _system_sa(operator_namespace)
    return None


class Subject(ApiModel):
    """Who gets access: a user, a group, or a service account (which needs its namespace).

    Never a ``system:`` user or group, nor a ServiceAccount of a ``kube-*`` namespace or of the
    operator's namespace: refused at admission (CEL) and again whenever a spec is parsed.
    """

    model_config = ConfigDict(
        json_schema_extra=validations(
            rule(
                "self.kind == 'ServiceAccount' ? has(self.__namespace__) : !has(self.__namespace__)",
                _SUBJECT_NAMESPACE,
            ),
            rule("!self.name.matches('[\\\\x00-\\\\x1f\\\\x7f]')", _SUBJECT_CONTROL),
            rule(
                "self.kind != 'ServiceAccount' || self.name.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
                _SUBJECT_SA_NAME,
            ),
            rule("self.kind != 'User' || !self.name.startsWith('system:')", _SUBJECT_SYSTEM_USER),
            rule("self.kind != 'Group' || !self.name.startsWith('system:')", _SUBJECT_SYSTEM_GROUP),
            rule(
                "self.kind != 'ServiceAccount' || !has(self.__namespace__) || "
                f"!(self.__namespace__.startsWith('kube-') || self.__namespace__ == '{DEFAULT_OPERATOR_NAMESPACE}')",
                _system_sa(DEFAULT_OPERATOR_NAMESPACE),
            ),
        )
    )

    kind: Literal["User", "Group", "ServiceAccount"]
    name: str = Field(min_length=1, max_length=253)
    namespace: DnsLabel | None = None

    @model_validator(mode="after")
    def _admission_rules(self) -> Subject:
        """The CEL rules above, enforced again wherever a spec is parsed (a spec stored before a
        rule existed, or a schema installed without it, must not grant what admission refuses)."""
        refusal = subject_refusal(self.kind, self.name, self.namespace)
        if refusal is not None:
            raise ValueError(refusal)
        return self

    def to_rbac(self) -> dict[str, str]:
        """The RBAC subject this names."""
        if self.kind == "ServiceAccount":
            return {"kind": "ServiceAccount", "name": self.name, "namespace": self.namespace or ""}
        return {"kind": self.kind, "name": self.name, "apiGroup": "rbac.authorization.k8s.io"}


Subjects = Annotated[list[Subject], Field(max_length=100)]


class Limits(ApiModel):
    """Default container limits: becomes one LimitRange item of type Container."""

    default: ResourceList | None = Field(None, description="Limits for containers that set none.")
    default_request: ResourceList | None = Field(None, description="Requests for containers that set none.")
    max: ResourceList | None = None
    min: ResourceList | None = None

    def merged(self, override: Limits | None) -> Limits:
        """This, with every map in ``override`` laid over it key by key."""
        if override is None:
            return self
        fields = {}
        for name in ("default", "default_request", "max", "min"):
            mine, theirs = getattr(self, name), getattr(override, name)
            fields[name] = {**(mine or {}), **(theirs or {})} or None
        return Limits(**fields)


class Condition(StatusModel):
    """A standard Kubernetes condition (metav1.Condition)."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None
