"""A field-level diff of one object: what an apply would change, path by path (pure).

Called by :mod:`bizdomain.preview.changes`. It explains the operator's own verdict
(:func:`bizdomain.decide.in_sync`), it does not make one: fields are compared the way
:mod:`bizdomain.plan.compare` compares them (maps as subsets, quantities by value). Against a
body the operator itself would write (offline: the base's plan) every field counts, removals
too; against an object read from a member only the operator's own labels and annotations and
the maps it owns whole (a quota's ``spec.hard``, a Workspace's ``spec``) report removals, so what
others add (hand-made labels, server defaults) is never shown as a change. The ``spec-hash``
annotation is left out: it changes with everything and says nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bizdomain import names
from bizdomain.plan.compare import contains
from bizdomain.plan.objects import ANNOTATION_SPEC_HASH

JSON = dict[str, Any]
OUR_KEYS = (f"{names.GROUP}/", names.LABEL_MANAGED_BY, "pod-security.kubernetes.io/")
# Maps the operator owns whole on a member: a key missing from the plan is removed by the apply.
OWNED_WHOLE = ("spec.hard", "Workspace:spec")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FieldChange:
    op: str  # "+" added, "-" removed, "~" changed
    path: str
    before: Any = None
    after: Any = None

    def to_json(self) -> JSON:
        out: JSON = {"op": {"+": "add", "-": "remove", "~": "change"}[self.op], "path": self.path}
        if self.op != "+":
            out["before"] = self.before
        if self.op != "-":
            out["after"] = self.after
        return out

    def text(self) -> str:
        if self.op == "+":
            return f"+ {self.path}: {show(self.after)}"
        if self.op == "-":
            return f"- {self.path}: {show(self.before)}"
        return f"~ {self.path}: {show(self.before)} -> {show(self.after)}"


def show(value: Any) -> str:
    if isinstance(value, dict) and {"kind", "name"} <= value.keys() and len(value) <= 4:
        where = f" ({value['namespace']})" if value.get("namespace") else ""
        return f"{value['kind']} {value['name']}{where}"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _join(path: str, key: str) -> str:
    if _PLAIN.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _is_subjects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and {"kind", "name"} <= v.keys() for v in value)


class _Differ:
    def __init__(self, kind: str, whole: bool) -> None:
        self.kind = kind
        self.whole = whole
        self.out: list[FieldChange] = []

    def removals(self, path: str) -> bool:
        return self.whole or path in OWNED_WHOLE or f"{self.kind}:{path}" in OWNED_WHOLE

    def walk(self, want: Any, have: Any, path: str, *, present: bool = True) -> None:
        if not present and isinstance(want, dict) and want and not {"kind", "name"} <= want.keys():
            for k, v in want.items():
                self.walk(v, None, _join(path, k), present=False)
        elif not present and _is_subjects(want) and want:
            self.out.extend(FieldChange("+", path, after=s) for s in want)
        elif not present:
            self.out.append(FieldChange("+", path, after=want))
        elif isinstance(want, dict) and isinstance(have, dict):
            for k, v in want.items():
                self.walk(v, have.get(k), _join(path, k), present=k in have)
            if self.removals(path):
                self.out.extend(FieldChange("-", _join(path, k), before=v) for k, v in have.items() if k not in want)
        elif _is_subjects(want) and _is_subjects(have):
            wanted = [json.dumps(s, sort_keys=True) for s in want]
            held = [json.dumps(s, sort_keys=True) for s in have]
            self.out.extend(FieldChange("+", path, after=s) for s, j in zip(want, wanted, strict=True) if j not in held)
            self.out.extend(
                FieldChange("-", path, before=s) for s, j in zip(have, held, strict=True) if j not in wanted
            )
        elif isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
            for i, (w, h) in enumerate(zip(want, have, strict=True)):
                self.walk(w, h, f"{path}[{i}]")
        elif not contains(want, have):
            self.out.append(FieldChange("~", path, before=have, after=want))


def new_fields(desired: JSON) -> list[FieldChange]:
    """The content of a new object (its spec, subjects, roleRef, ...; not its metadata), leaf by leaf."""
    differ = _Differ(str(desired.get("kind", "")), whole=True)
    for k, v in desired.items():
        if k not in ("apiVersion", "kind", "metadata"):
            differ.walk(v, None, k, present=False)
    return differ.out


def diff(desired: JSON, live: JSON | None, *, whole: bool) -> list[FieldChange]:
    """What applying ``desired`` changes in ``live`` (None: everything is added).

    ``whole``: ``live`` is a body the operator would write itself, so every key it has and
    ``desired`` lacks is a removal; else only the operator's own keys are.
    """
    live = live or {"metadata": {}}
    differ = _Differ(str(desired.get("kind", "")), whole)
    want_meta, have_meta = desired.get("metadata") or {}, live.get("metadata") or {}
    for part in ("labels", "annotations"):
        want = {k: v for k, v in (want_meta.get(part) or {}).items() if k != ANNOTATION_SPEC_HASH}
        have = {
            k: v
            for k, v in (have_meta.get(part) or {}).items()
            if k != ANNOTATION_SPEC_HASH and (whole or k.startswith(OUR_KEYS))
        }
        for k, v in want.items():
            differ.walk(v, have.get(k), _join(f"metadata.{part}", k), present=k in have)
        differ.out.extend(
            FieldChange("-", _join(f"metadata.{part}", k), before=v) for k, v in have.items() if k not in want
        )
    for k, v in desired.items():
        if k not in ("apiVersion", "kind", "metadata"):
            differ.walk(v, live.get(k), k, present=k in live)
    if whole:
        for k, v in live.items():
            if k not in desired and k not in ("apiVersion", "kind", "metadata"):
                differ.out.append(FieldChange("-", k, before=v))
    return differ.out
