"""Read host objects from files the way ``kubectl apply -f`` does: the first step of ``bizdomain plan``.

Called by :mod:`bizdomain.preview.command`. A path is a file or a directory (its ``.yaml``,
``.yml`` and ``.json`` files, recursively, in name order); ``-`` reads standard input. A file may
hold many YAML documents, and ``List`` kinds (``kind: List``, ``*List``) are unpacked. Only the
kinds the planner reads are kept (BusinessDomain, EnvironmentBinding, MemberCluster); every other
document is skipped and counted by kind, never echoed: a Secret's content or a kubeconfig found in
a repository is never printed.

A file is read as the API server stores it, never as it claims to be: what the server assigns
itself (uid, creation and deletion marks, generation, resourceVersion), the status (a subresource
an apply never writes) and a namespace on a cluster-scoped kind (the server drops it) are removed,
so a pull request cannot mark a new binding as being deleted (hiding it from the plan) or give a
domain a uid that owns none of its namespaces. A key written twice in one mapping is refused:
kubectl keeps the last one, other readers keep the first or refuse, and a reviewer reading the
file sees the first: a plan of either would be a plan of something the reviewer did not read.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bizdomain import names
from bizdomain.api import BusinessDomainSpec, EnvironmentBindingSpec, MemberClusterSpec

EXTENSIONS = (".yaml", ".yml", ".json")
KINDS = (names.KIND_DOMAIN, names.KIND_BINDING, names.KIND_MEMBER)
# libyaml's safe loader when PyYAML was built with it (ten times faster on a large repository).
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# What only the API server writes: a file that names them does not set them.
SERVER_FIELDS = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
    "managedFields",
    "selfLink",
)
CLUSTER_SCOPED = (names.KIND_DOMAIN, names.KIND_MEMBER)
SPECS: dict[str, type[BaseModel]] = {
    names.KIND_DOMAIN: BusinessDomainSpec,
    names.KIND_BINDING: EnvironmentBindingSpec,
    names.KIND_MEMBER: MemberClusterSpec,
}


class _Duplicate(yaml.YAMLError):
    def __init__(self, key: str, mark: Any) -> None:
        super().__init__(f"key {key!r} written twice")
        self.key, self.problem_mark = key, mark


class _Loader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader, refusing a mapping that names a key twice (merge keys aside)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:  # scalar keys by their text: no second construction
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise _Duplicate(key_node.value, key_node.start_mark)
                seen.add(key_node.value)
        return dict(super().construct_mapping(node, deep=deep))


class LoadError(Exception):
    """A file that cannot be read or parsed (the message names the file, never its content)."""


@dataclass
class Loaded:
    """The host objects found in the files, and what was skipped."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # kind -> documents of it skipped
    files: int = 0

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]


def _files(path: str) -> Iterator[Path]:
    root = Path(path)
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in EXTENSIONS)
        yield from found
    elif root.is_file():
        yield root
    else:
        raise LoadError(f"{path}: no such file or directory")


def _documents(text: str, where: str) -> Iterator[Any]:
    try:
        if where.endswith(".json"):
            yield json.loads(text, object_pairs_hook=_json_object)
        else:
            yield from yaml.load_all(text, Loader=_Loader)
    except _Duplicate as exc:
        line = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark is not None else ""
        raise LoadError(
            f"{where}{line}: a key is written twice in one mapping ({exc.key!r}); kubectl keeps the last one, "
            "other readers the first: write it once"
        ) from None
    except (yaml.YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise LoadError(f"{where}{line}: not valid YAML or JSON") from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key, None)
        out[key] = value
    return out


def _unknown_fields(doc: dict[str, Any], where: str) -> None:
    """Refuse a spec field the schema does not have: the API server prunes it from what it stores
    (or kubectl refuses the file), so the host would hold another spec than the file's, and the
    plan of the file's (the operator's parser refuses unknown fields: frozen) would show nothing."""
    try:
        SPECS[doc["kind"]].model_validate(doc.get("spec") or {})
    except ValidationError as exc:
        unknown = [".".join(str(p) for p in e["loc"]) for e in exc.errors() if e["type"] == "extra_forbidden"]
        if unknown:
            fields = ", ".join(f"spec.{u}" for u in unknown)
            raise LoadError(
                f"{where}: {doc['kind']} {doc['metadata']['name']!r}: {fields} is not a field of {doc['kind']} "
                "(the API server would drop it, so the plan cannot show what the host would hold)"
            ) from None


def _as_stored(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as the API server would store it from an apply: no server-assigned metadata, no
    status, and no namespace on a cluster-scoped kind."""
    meta = {k: v for k, v in doc["metadata"].items() if k not in SERVER_FIELDS}
    if doc["kind"] in CLUSTER_SCOPED:
        meta.pop("namespace", None)
    return {**{k: v for k, v in doc.items() if k != "status"}, "metadata": meta}


def _unpack(doc: Any, where: str) -> Iterator[dict[str, Any]]:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise LoadError(f"{where}: a document is not an object")
    kind = str(doc.get("kind", ""))
    if kind == "List" or (kind.endswith("List") and isinstance(doc.get("items"), list)):
        for item in doc.get("items") or []:
            yield from _unpack(item, where)
        return
    yield doc


def _check(doc: dict[str, Any], where: str) -> None:
    kind = doc["kind"]
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise LoadError(f"{where}: a {kind} has no metadata.name")
    if kind == names.KIND_BINDING and not meta.get("namespace"):
        raise LoadError(f"{where}: EnvironmentBinding {meta['name']!r} has no metadata.namespace")
    if doc.get("apiVersion") != names.API_VERSION:
        raise LoadError(
            f"{where}: {kind} {meta['name']!r} is apiVersion {doc.get('apiVersion')!r}, not {names.API_VERSION}"
        )


def load(paths: Iterable[str]) -> Loaded:
    """Every BusinessDomain, EnvironmentBinding and MemberCluster in ``paths``.

    The same object twice (same kind, namespace and name) is an error, as it is for kubectl.
    """
    out = Loaded()
    seen: dict[tuple[str, str, str], str] = {}
    for path in paths:
        sources = [(Path("-"), sys.stdin.read())] if path == "-" else None
        for file in [s[0] for s in sources] if sources else _files(path):
            where = str(file)
            try:
                text = sources[0][1] if sources else file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise LoadError(f"{where}: cannot be read ({type(exc).__name__})") from None
            out.files += 1
            for raw in _documents(text, where):
                for found in _unpack(raw, where):
                    kind = str(found.get("kind", ""))
                    if kind not in KINDS:
                        out.skipped[kind or "(no kind)"] += 1
                        continue
                    _check(found, where)
                    _unknown_fields(found, where)
                    doc = _as_stored(found)
                    meta = doc["metadata"]
                    key = (kind, str(meta.get("namespace") or ""), str(meta["name"]))
                    if key in seen:
                        raise LoadError(f"{where}: {kind} {'/'.join(k for k in key[1:] if k)} is also in {seen[key]}")
                    seen[key] = where
                    out.objects.append(doc)
    return out
