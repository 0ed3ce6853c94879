"""``bizdomain plan`` reads a file as the real host API server stores it (the security review of issue 15).

A pull request's file may claim what only the API server sets (a uid, a deletion mark, a generation,
a status) or carry what it drops (a namespace on a cluster-scoped kind, an unknown spec field). The
plan must see what the host would hold: here the file is applied with kubectl, read back, and
compared with what :func:`bizdomain.preview.load.load` makes of the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bizdomain.preview.load import LoadError, load
from support import Cleanup, ClusterHandle

pytestmark = pytest.mark.usefixtures("bizdomain_crds")

CLAIMED = {
    "namespace": "kube-system",
    "uid": "00000000-0000-0000-0000-000000000001",
    "creationTimestamp": "1970-01-01T00:00:00Z",
    "deletionTimestamp": "2020-01-01T00:00:00Z",
    "deletionGracePeriodSeconds": 0,
    "generation": 7,
}


def _domain(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "bizdomain.io/v1alpha1",
        "kind": "BusinessDomain",
        "metadata": {"name": name, **CLAIMED},
        "spec": {"displayName": "Attack", "owners": [{"kind": "User", "name": "a@example.com"}], **spec},
        "status": {"observedGeneration": 7},
    }


@pytest.mark.parametrize("apply", [["apply"], ["apply", "--server-side"], ["create"]], ids=["csa", "ssa", "create"])
def test_server_assigned_metadata_is_what_the_server_says(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str, tmp_path: Path, apply: list[str]
) -> None:
    path = tmp_path / "domain.json"
    domain = _domain(unique_name)
    cleanup.add(host, "businessdomain", unique_name)
    if "--server-side" in apply:  # a server-side apply takes a uid as a precondition: refused, nothing made
        path.write_text(json.dumps(domain))
        refused = host.kubectl(*apply, "-f", str(path), check=False)
        assert "uid mismatch" in refused.stderr
        del domain["metadata"]["uid"]
    path.write_text(json.dumps(domain))
    host.kubectl(*apply, "-f", str(path))
    stored = json.loads(host.kubectl("get", "businessdomain", unique_name, "-o", "json").stdout)
    read = load([str(path)]).objects[0]
    for field, claimed in CLAIMED.items():
        assert stored["metadata"].get(field) != claimed, field  # the server never takes the file's word
        assert field not in read["metadata"], field  # and neither does the plan
    assert "status" not in stored or stored["status"] != {"observedGeneration": 7}
    assert "status" not in read


def test_an_unknown_spec_field_never_reaches_the_host_as_written(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str, tmp_path: Path
) -> None:
    """kubectl refuses it (strict validation); with validation off the server drops it. Either way
    the host never holds the file's spec, so the plan refuses the file."""
    path = tmp_path / "domain.json"
    path.write_text(json.dumps(_domain(unique_name, bogus=1)))
    cleanup.add(host, "businessdomain", unique_name)
    refused = host.kubectl("apply", "-f", str(path), check=False)
    assert refused.returncode != 0
    assert "bogus" in refused.stderr
    host.kubectl("apply", "--validate=false", "-f", str(path))
    stored = json.loads(host.kubectl("get", "businessdomain", unique_name, "-o", "json").stdout)
    assert "bogus" not in stored["spec"]
    with pytest.raises(LoadError, match=r"spec\.bogus is not a field"):
        load([str(path)])


def test_a_key_written_twice_is_not_one_the_plan_can_trust(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str, tmp_path: Path
) -> None:
    """kubectl 1.37 keeps the last of two equal keys, silently: a reviewer reading the file sees the
    first. The plan refuses the file instead of planning either."""
    path = tmp_path / "domain.yaml"
    path.write_text(
        f"apiVersion: bizdomain.io/v1alpha1\nkind: BusinessDomain\nmetadata: {{name: {unique_name}}}\n"
        "spec:\n  displayName: First\n  owners: [{kind: User, name: a@example.com}]\n  displayName: Second\n"
    )
    cleanup.add(host, "businessdomain", unique_name)
    host.kubectl("apply", "-f", str(path))
    stored = json.loads(host.kubectl("get", "businessdomain", unique_name, "-o", "json").stdout)
    assert stored["spec"]["displayName"] == "Second"
    with pytest.raises(LoadError, match="written twice"):
        load([str(path)])
