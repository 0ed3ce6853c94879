"""Read host objects from files the way ``kubectl apply -f`` does: the first step of ``bizdomain plan``.

Called by :mod:`bizdomain.preview.command`. A path is a file or a directory (its ``.yaml``,
``.yml`` and ``.json`` files, recursively, in name order); ``-`` reads standard input. A file may
hold many YAML documents, and ``List`` kinds (``kind: List``, ``*List``) are unpacked. Only the
kinds the planner reads are kept (BusinessDomain, EnvironmentBinding, MemberCluster); every other
document is skipped and counted by kind, never echoed: a Secret's content or a kubeconfig found in
a repository is never printed.
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

from bizdomain import names

EXTENSIONS = (".yaml", ".yml", ".json")
KINDS = (names.KIND_DOMAIN, names.KIND_BINDING, names.KIND_MEMBER)
# libyaml's safe loader when PyYAML was built with it (ten times faster on a large repository).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
            yield json.loads(text)
        else:
            yield from yaml.load_all(text, Loader=_LOADER)
    except (yaml.YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise LoadError(f"{where}{line}: not valid YAML or JSON") from None


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
                for doc in _unpack(raw, where):
                    kind = str(doc.get("kind", ""))
                    if kind not in KINDS:
                        out.skipped[kind or "(no kind)"] += 1
                        continue
                    _check(doc, where)
                    meta = doc["metadata"]
                    key = (kind, str(meta.get("namespace") or ""), str(meta["name"]))
                    if key in seen:
                        raise LoadError(f"{where}: {kind} {'/'.join(k for k in key[1:] if k)} is also in {seen[key]}")
                    seen[key] = where
                    out.objects.append(doc)
    return out
