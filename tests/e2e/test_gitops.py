"""GitOps with Argo CD: health checks run on real status objects, and the operator never
writes what Argo CD owns (spec), shown with server-side apply managed fields."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from bizdomain.api import BusinessDomainSpec, EnvironmentBindingSpec, MemberClusterSpec
from bizdomain.api.common import ApiModel
from support.platform import ROOT, MakeDomain, Platform, binding_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
ARGOCD = ROOT / "charts/bizdomain/argocd"
KINDS = ("BusinessDomain", "EnvironmentBinding", "MemberCluster")


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the shipped Lua exactly as Argo CD does: a global `obj`, the script's return value."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.eval("function(s) return s end")(_to_lua(lua, obj))
    result = lua.execute((ARGOCD / "health.lua").read_text())
    return str(result["status"]), str(result["message"] or "")


def _to_lua(lua: LuaRuntime, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


def test_argocd_cm_carries_the_lua_for_every_kind() -> None:
    config = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    lua = (ARGOCD / "health.lua").read_text()
    for kind in KINDS:
        assert config["data"][f"resource.customizations.health.bizdomain.io_{kind}"] == lua


def test_health_of_real_objects(platform: Platform, make_domain: MakeDomain, unique_name: str) -> None:
    make_domain(unique_name, envs=("dev",))
    domain = platform.require("businessdomain", unique_name)
    binding = platform.require("environmentbinding", "dev", f"domain-{unique_name}")
    member = platform.require("membercluster", "dev")
    for obj in (domain, binding, member):
        assert health(obj)[0] == "Healthy", obj["kind"]

    # the operator has not seen the newest generation yet
    behind = copy.deepcopy(binding)
    behind["metadata"]["generation"] += 1
    assert health(behind)[0] == "Progressing"
    # just created, no status yet
    fresh = {k: v for k, v in copy.deepcopy(domain).items() if k != "status"}
    assert health(fresh)[0] == "Progressing"

    # a binding naming a department the domain does not have is Degraded, with the reason
    platform.apply(binding_doc(unique_name, "dev", access=[{"department": "marketing", "role": "viewer"}]))
    bad = platform.wait_reason(unique_name, "dev", "UnknownDepartment")
    status, message = health(bad)
    assert status == "Degraded"
    assert "marketing" in message
    status, _ = health(platform.wait_domain_not_ready(unique_name))
    assert status in {"Degraded", "Progressing"}


def _paths(fields: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in fields.items():
        path = f"{prefix}/{key}"
        if isinstance(value, dict) and value:
            out.extend(_paths(value, path))
        else:
            out.append(path)
    return out


def test_operator_owns_only_status_and_its_own_bookkeeping(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    make_domain(unique_name, envs=("dev", "prod"))

    def managed(*args: str) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(
            platform.host.kubectl("get", *args, "-o", "json", "--show-managed-fields").stdout
        )
        return obj

    objects = [
        managed("businessdomain", unique_name),
        managed("environmentbinding", "dev", "-n", f"domain-{unique_name}"),
        managed("membercluster", "dev"),
    ]
    for obj in objects:
        for entry in obj["metadata"]["managedFields"]:
            if entry["manager"].startswith("kubectl") or entry["manager"] == "bizdomain-join":
                continue  # what the user (or `bizdomain join`) applied
            for path in _paths(entry.get("fieldsV1", {})):
                allowed = (
                    path.startswith("/f:status")
                    or path.startswith('/f:metadata/f:finalizers/v:"bizdomain.io/finalizer"')
                    or path.startswith("/f:metadata/f:annotations/f:kopf.bizdomain.io/")
                    or path in ("/f:metadata/f:finalizers/.", "/f:metadata/f:annotations/.")
                )
                assert allowed, f"{obj['kind']} {entry['manager']} owns {path}"
            if entry["manager"] == "bizdomain":
                assert entry.get("subresource") == "status"


# The Kubernetes manifests Argo CD syncs (ci/ holds the pull-request plan's CI step, which Argo CD excludes).
MANIFESTS = sorted(p for p in (ROOT / "examples/gitops").rglob("*.yaml") if "ci" not in p.relative_to(ROOT).parts)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_gitops_examples_are_valid(path: Path, platform: Platform) -> None:
    models: dict[str, type[ApiModel]] = {"BusinessDomain": BusinessDomainSpec,
        "EnvironmentBinding": EnvironmentBindingSpec, "MemberCluster": MemberClusterSpec}  # fmt: skip
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] in models:
            models[doc["kind"]].model_validate(doc["spec"])
            assert "argocd.argoproj.io/sync-wave" in doc["metadata"]["annotations"]
            if doc["kind"] != "EnvironmentBinding":  # its namespace is made by the operator
                platform.host.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(doc))
        else:
            assert doc["kind"] == "Application"
            assert doc["spec"]["syncPolicy"]["syncOptions"]
