"""The committed CRDs are exactly what the models render, and they are the CRDs kubectl users need."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bizdomain import names
from bizdomain.api.crdgen import CRDS, CrdSpec, stale_files

REPO = Path(__file__).resolve().parents[3]
DIRECTORIES = ["crds", "charts/bizdomain/crds"]


@pytest.mark.parametrize("directory", DIRECTORIES)
def test_committed_crds_are_fresh(directory: str) -> None:
    stale = stale_files(REPO / directory)
    assert stale == [], f"{directory}: {', '.join(stale)} differ from the models; run `make manifests`"


def committed(crd: CrdSpec) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "crds" / f"{names.GROUP}_{crd.plural}.yaml").read_text())
    return data


def crd_params() -> list[Any]:
    return [pytest.param(crd, id=crd.kind) for crd in CRDS]


def version(crd: CrdSpec) -> dict[str, Any]:
    (only,) = committed(crd)["spec"]["versions"]
    assert only["name"] == names.VERSION
    assert only["served"]
    assert only["storage"]
    return dict(only)


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, schema node) below ``node``."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def test_every_kind_has_its_file() -> None:
    files = {p.name for p in (REPO / "crds").glob("*.yaml")}
    assert files == {f"{names.GROUP}_{crd.plural}.yaml" for crd in CRDS}
    assert {crd.kind for crd in CRDS} == {
        names.KIND_DOMAIN,
        names.KIND_BINDING,
        names.KIND_MEMBER,
        names.KIND_WORKSPACE,
        names.KIND_SANDBOX,
    }


@pytest.mark.parametrize("crd", crd_params())
def test_names_and_scope(crd: CrdSpec) -> None:
    body = committed(crd)
    assert body["metadata"]["name"] == f"{crd.plural}.{names.GROUP}"
    spec_names = body["spec"]["names"]
    assert spec_names["kind"] == crd.kind
    assert spec_names["plural"] == crd.plural
    assert spec_names["singular"] == crd.kind.lower()
    assert spec_names["listKind"] == f"{crd.kind}List"
    assert "bizdomain" in spec_names["categories"], "`kubectl get bizdomain` lists every kind"
    namespaced = crd.kind in (names.KIND_BINDING, names.KIND_SANDBOX)
    assert body["spec"]["scope"] == ("Namespaced" if namespaced else "Cluster")


@pytest.mark.parametrize("crd", crd_params())
def test_status_subresource_exactly_where_there_is_a_status_model(crd: CrdSpec) -> None:
    served = version(crd)
    schema = served["schema"]["openAPIV3Schema"]["properties"]
    if crd.status is None:
        assert "subresources" not in served
        assert "status" not in schema
    else:
        assert served["subresources"] == {"status": {}}
        assert schema["status"]["type"] == "object"
        assert schema["status"]["properties"]


@pytest.mark.parametrize("crd", crd_params())
def test_short_names(crd: CrdSpec) -> None:
    short = committed(crd)["spec"]["names"]["shortNames"]
    assert short
    assert short == list(crd.short_names)


def test_kubectl_get_domains_works_through_short_names() -> None:
    domain = next(crd for crd in CRDS if crd.kind == names.KIND_DOMAIN)
    assert {"domain", "domains"} <= set(committed(domain)["spec"]["names"]["shortNames"])


def test_short_names_are_unique_across_kinds() -> None:
    every = [n for crd in CRDS for n in committed(crd)["spec"]["names"]["shortNames"]]
    assert len(every) == len(set(every))
    plurals_and_singulars = {crd.plural for crd in CRDS} | {crd.kind.lower() for crd in CRDS}
    assert not set(every) & plurals_and_singulars


def schema_at(root: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    """The schema node a printer column's JSONPath points at (None if the schema has no such field)."""
    node: dict[str, Any] | None = root
    for segment in re.sub(r"\[[^]]*\]", "[]", json_path).lstrip(".").split("."):
        name = segment.split("[", 1)[0]
        if node is None:
            return None
        node = node.get("properties", {}).get(name)
        if node is not None and "[" in segment:
            node = node.get("items")
    return node


@pytest.mark.parametrize("crd", crd_params())
def test_printer_columns_point_at_fields_that_exist(crd: CrdSpec) -> None:
    served = version(crd)
    columns = served["additionalPrinterColumns"]
    assert columns
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    root = served["schema"]["openAPIV3Schema"]
    for column in columns[:-1]:
        assert column["type"] in {"string", "integer", "boolean", "date", "number"}
        assert schema_at(root, column["jsonPath"]) is not None, f"{crd.kind} column {column['name']}"


@pytest.mark.parametrize("crd", [c for c in crd_params() if c.values[0].status is not None])
def test_ready_column_where_there_are_conditions(crd: CrdSpec) -> None:
    columns = {c["name"]: c["jsonPath"] for c in version(crd)["additionalPrinterColumns"]}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'


@pytest.mark.parametrize("crd", crd_params())
def test_no_preserve_unknown_fields_in_spec(crd: CrdSpec) -> None:
    spec = version(crd)["schema"]["openAPIV3Schema"]["properties"]["spec"]
    offenders = [path for path, node in walk(spec) if "x-kubernetes-preserve-unknown-fields" in node]
    assert offenders == []


def schema_nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node (not rules, enums or defaults) below ``node``, following the schema's structure."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from schema_nodes(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_nodes(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("crd", crd_params())
def test_schema_is_structural(crd: CrdSpec) -> None:
    root = version(crd)["schema"]["openAPIV3Schema"]
    assert root["required"] == ["spec"]
    for path, node in schema_nodes(root, crd.kind):
        assert node.get("type") or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        for forbidden in ("$ref", "$defs", "anyOf", "allOf", "oneOf", "not", "title"):
            assert forbidden not in node, f"{path} has {forbidden}"
        assert node.get("additionalProperties") is not False, f"{path}: unknown fields are pruned, not refused"


@pytest.mark.parametrize("crd", crd_params())
def test_cel_rules_have_messages(crd: CrdSpec) -> None:
    rules = [
        rule
        for _, node in walk(version(crd)["schema"]["openAPIV3Schema"])
        for rule in node.get("x-kubernetes-validations", [])
    ]
    if crd.kind != names.KIND_WORKSPACE:
        assert rules
    for rule in rules:
        assert rule["rule"]
        assert rule["message"]
