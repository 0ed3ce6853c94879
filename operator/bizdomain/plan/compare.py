"""Does a live object already hold what we want? (pure; used to keep steady state write-free)

An object needs an apply when its ``spec-hash`` annotation differs from the desired one
(the spec changed, including removed keys), or when any field we set was changed by
hand (drift). Maps compare as subsets (the server and others may add keys), lists
element by element, and quantities by value (the server writes ``1Gi`` for ``1024Mi``).
"""

from __future__ import annotations

from typing import Any

from bizdomain.api.common import parse_quantity
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH


def _same_scalar(want: Any, have: Any) -> bool:
    if want == have:
        return True
    if isinstance(want, str | int) and isinstance(have, str | int) and not isinstance(want, bool):
        try:
            return parse_quantity(want) == parse_quantity(have)
        except ValueError:
            return False
    return False


def contains(want: Any, have: Any) -> bool:
    """Whether ``have`` holds everything in ``want``."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and contains(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(contains(w, h) for w, h in zip(want, have, strict=True))
        )
    return _same_scalar(want, have)


def needs_apply(desired: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """True when applying ``desired`` would change ``live`` (or ``live`` is missing)."""
    if live is None:
        return True
    want_meta, have_meta = desired.get("metadata", {}), live.get("metadata", {})
    want_hash = want_meta.get("annotations", {}).get(ANNOTATION_SPEC_HASH)
    if want_hash != (have_meta.get("annotations") or {}).get(ANNOTATION_SPEC_HASH):
        return True
    if not contains(want_meta.get("labels", {}), have_meta.get("labels") or {}):
        return True
    if not contains(want_meta.get("annotations", {}), have_meta.get("annotations") or {}):
        return True
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata")}
    return not contains(body, live)
