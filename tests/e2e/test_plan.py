"""``bizdomain plan --live`` against the real operator and members: what it says is what happens.

After convergence the plan is empty; a hand edit on a member shows as drift (the operator is
paused meanwhile, so it cannot correct it first); a change in files shows exactly the objects
the operator then writes, compared object by object on the members; a stopped member API server
gives a clear error and exit code 1; the plan's requests are reads only, counted in the API
servers' own ``apiserver_request_total``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import wait_until
from support.platform import MEMBERS, ROOT, Platform, binding_doc, domain_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

MEMBER_KINDS = "namespaces,workspaces,rolebindings,resourcequotas,limitranges,networkpolicies"
WRITES = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}
READS = {"GET", "LIST"}
# What the plan reads, and what a write by it would touch (subresources such as status are
# written by Kubernetes' own controllers and are not counted).
HOST_RESOURCES = {"businessdomains", "environmentbindings", "memberclusters", "secrets", "namespaces"}
MEMBER_RESOURCES = {"namespaces", "workspaces", "rolebindings", "resourcequotas", "limitranges", "networkpolicies"}
_SAMPLE = re.compile(r"^apiserver_request_total\{(.*)\}\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def run_plan(
    platform: Platform, *args: str, output: str = "json", mode: str = "--live", env: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    """``bizdomain plan --live`` (or ``--host``) as a platform engineer runs it, with the host's kubeconfig."""
    proc = subprocess.run(
        [sys.executable, "-m", "bizdomain.cli", "plan", mode, "--kubeconfig", str(platform.host.kubeconfig),
         "-o", output, "--color", "never", "--detailed-exitcode", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("BIZDOMAIN_") or k == "BIZDOMAIN_BIN_DIR"},
            **(env or {}),
        },
    )  # fmt: skip
    out: Any = proc.stdout
    if output == "json" and proc.stdout.strip():
        out = json.loads(proc.stdout)
    return proc.returncode, out, proc.stderr


def converged(platform: Platform, domain: str) -> dict[str, Any]:
    """The plan of ``domain`` once it is empty (the operator has converged), exit code 0."""

    def empty() -> dict[str, Any] | None:
        code, plan, _ = run_plan(platform, "--domain", domain)
        return plan if code == 0 and not any(c["changes"] for c in plan["clusters"]) else None

    result: dict[str, Any] = wait_until(empty, timeout=90, interval=0.5, what=f"an empty plan for {domain}")
    return result


def changes(plan: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    return {
        (cluster["name"], c["action"], c["kind"], c["namespace"] or "", c["name"])
        for cluster in plan["clusters"]
        for c in cluster["changes"]
    }


@contextmanager
def operator_paused(platform: Platform) -> Iterator[None]:
    """The session's operator, stopped (SIGSTOP) so it cannot correct anything; resumed after."""
    assert platform.operator.proc is not None
    pid = platform.operator.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def snapshot(platform: Platform, domain: str) -> dict[tuple[str, str, str, str], Any]:
    """Every object of ``domain`` on every member, by (cluster, kind, namespace, name): what the
    operator writes (labels, its annotations, spec, subjects, roleRef), never status."""
    out = {}
    for member in MEMBERS:
        listed = platform.member(member).kubectl(
            "get", MEMBER_KINDS, "-A", "-l", f"bizdomain.io/domain={domain}", "-o", "json"
        )
        for obj in json.loads(listed.stdout)["items"]:
            meta = obj["metadata"]
            ours = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("bizdomain.io/")}
            content = {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion")}
            if obj["kind"] == "Namespace":
                content.pop("spec", None)  # spec.finalizers: the API server's
            key = (member, obj["kind"], meta.get("namespace") or "", meta["name"])
            out[key] = {"labels": meta.get("labels") or {}, "annotations": ours, **content}
    return out


def scrape(platform: Platform, cluster: str) -> Counter[tuple[str, str, str]]:
    """``apiserver_request_total`` of one API server, by (verb, resource, subresource)."""
    text = platform.plane[cluster].kubectl("get", "--raw", "/metrics").stdout
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = dict(_LABEL.findall(match.group(1)))
            key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
            counts[key] += int(float(match.group(2)))
    return counts


def test_after_convergence_the_plan_is_empty(platform: Platform, make_domain: Any, unique_name: str) -> None:
    make_domain(unique_name)
    plan = converged(platform, unique_name)
    assert plan["apiVersion"] == "bizdomain.io/plan/v1"
    assert plan["mode"] == "live"
    tenants = {(c["name"], t["environment"]): t for c in plan["clusters"] for t in c["tenants"]}
    assert set(tenants) == {("dev", "dev"), ("prod", "prod")}
    assert all(t["unchanged"] > 0 and not t["problems"] for t in tenants.values())
    code, text, err = run_plan(platform, "--domain", unique_name, output="text")
    assert code == 0
    assert "No changes: the members match the plan." in text
    # The members' credentials were read from their Secrets, and are nowhere in what was printed.
    for member in MEMBERS:
        secret = platform.get("secret", f"member-{member}", "bizdomain-system")
        assert secret is not None
        kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
        token = kubeconfig["users"][0]["user"]["token"]
        for printed in (text, err, json.dumps(plan)):
            assert token[:16] not in printed


def test_a_hand_edit_shows_as_drift(platform: Platform, make_domain: Any, unique_name: str) -> None:
    make_domain(unique_name)
    converged(platform, unique_name)
    dev = platform.member("dev")
    binding = "bizdomain.io:department:backend:developer"
    with operator_paused(platform):
        dev.kubectl("patch", "resourcequota", "bizdomain-quota", "-n", unique_name, "--type=merge",
                    "-p", '{"spec":{"hard":{"pods":"999"}}}')  # fmt: skip
        subjects = [
            {"kind": "Group", "name": f"{unique_name}-backend", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "User", "name": "mallory@example.com", "apiGroup": "rbac.authorization.k8s.io"},
        ]
        dev.kubectl("patch", "rolebinding", binding, "-n", unique_name, "--type=merge",
                    "-p", json.dumps({"subjects": subjects}))  # fmt: skip
        code, plan, _ = run_plan(platform, "--domain", unique_name)
        code_text, text, _ = run_plan(platform, "--domain", unique_name, output="text")
    assert code == code_text == 2
    found = {(c["kind"], c["name"]): c for cl in plan["clusters"] for c in cl["changes"]}
    assert set(found) == {("ResourceQuota", "bizdomain-quota"), ("RoleBinding", binding)}
    quota, rolebinding = found["ResourceQuota", "bizdomain-quota"], found["RoleBinding", binding]
    assert quota["action"] == rolebinding["action"] == "correct"
    assert quota["fields"] == [{"op": "change", "path": "spec.hard.pods", "before": "999", "after": "20"}]
    assert rolebinding["fields"] == [
        {"op": "remove", "path": "subjects", "before": subjects[1]},
    ]
    assert "~ correct drift ResourceQuota" in text
    assert '~ spec.hard.pods: "999" -> "20"' in text
    assert "- subjects: User mallory@example.com" in text
    converged(platform, unique_name)  # the operator, resumed, corrects both


def test_a_file_change_plans_exactly_what_the_operator_then_writes(
    platform: Platform, make_domain: Any, unique_name: str, tmp_path: Path
) -> None:
    projects = [{"name": unique_name}, {"name": f"{unique_name}-batch"}]
    make_domain(unique_name, projects=projects)
    converged(platform, unique_name)
    # The pull request: drop a project, backend viewer -> developer in prod, more CPU in dev.
    change = [
        domain_doc(unique_name, projects=projects[:1]),
        binding_doc(unique_name, "dev", quota={"requests.cpu": "6"}),
        binding_doc(
            unique_name,
            "prod",
            access=[{"department": "backend", "role": "developer"}, {"department": "sre", "role": "admin"}],
        ),
    ]
    files = tmp_path / "change.yaml"
    files.write_text(yaml.safe_dump_all(change, allow_unicode=True))
    code, plan, _ = run_plan(platform, "-f", str(files), "--domain", unique_name)
    assert code == 2
    planned = changes(plan)
    # Members match the host (converged): the plan from the host alone, no member read, is the same.
    code_host, plan_host, _ = run_plan(platform, "-f", str(files), "--domain", unique_name, mode="--host")
    assert code_host == 2
    assert plan_host["mode"] == "offline"
    assert changes(plan_host) == planned
    dangers = [d for cl in plan["clusters"] for c in cl["changes"] for d in c["dangers"]]
    assert any("widens rights in the protected environment 'prod'" in d for d in dangers)

    before = snapshot(platform, unique_name)
    platform.apply(*change)
    for env in ("dev", "prod"):
        platform.wait_binding(unique_name, env)
    platform.wait_domain_ready(unique_name)
    converged(platform, unique_name)
    after = snapshot(platform, unique_name)

    def released(key: tuple[str, str, str, str]) -> bool:
        return key[1] == "Namespace" and after[key]["labels"].get("bizdomain.io/released") == "true"

    done = {(k[0], "create", *k[1:]) for k in after.keys() - before.keys()}
    done |= {(k[0], "prune", *k[1:]) for k in before.keys() - after.keys()}
    done |= {(k[0], "release", *k[1:]) for k in after.keys() & before.keys() if released(k)}
    done |= {
        (k[0], "update", *k[1:]) for k in after.keys() & before.keys() if after[k] != before[k] and not released(k)
    }
    assert {(c, "update" if a == "correct" else a, *rest) for c, a, *rest in planned} == done
    assert len(done) >= 10  # 2 RoleBindings created, 12 objects pruned, 2 released, quota and Workspaces updated

    # The project back: its released namespaces are taken back (an update), never created again.
    files.write_text(yaml.safe_dump(domain_doc(unique_name, projects=projects), allow_unicode=True))
    code, plan, _ = run_plan(platform, "-f", str(files), "--domain", unique_name)
    assert code == 2
    batch = f"{unique_name}-batch"
    assert {(c, a) for c, a, kind, _, name in changes(plan) if kind == "Namespace" and name == batch} == {
        ("dev", "update"),
        ("prod", "update"),
    }


def test_a_stopped_member_api_server_is_an_error(platform: Platform, make_domain: Any, unique_name: str) -> None:
    make_domain(unique_name)
    converged(platform, unique_name)
    platform.plane.faults.stop_apiserver("prod")
    try:
        code, plan, _ = run_plan(platform, "--domain", unique_name)
        code_text, text, _ = run_plan(platform, "--domain", unique_name, output="text")
    finally:
        platform.plane.faults.start_apiserver("prod")
    assert code == code_text == 1
    by_name = {c["name"]: c for c in plan["clusters"]}
    assert by_name["prod"]["status"] == "unreadable"
    assert by_name["prod"]["error"]["reason"] == "ClusterUnreachable"
    assert "cannot read member cluster 'prod'" in by_name["prod"]["error"]["message"]
    assert by_name["dev"]["status"] == "planned"
    assert by_name["dev"]["error"] is None
    assert plan["summary"]["errors"] == 1
    assert "! ERROR ClusterUnreachable: cannot read member cluster 'prod'" in text
    assert "could not be read: the plan is incomplete" in text
    wait_until(
        lambda: platform.condition(platform.get("membercluster", "prod")).get("status") == "True",
        timeout=60,
        what="prod Ready again",
    )


def test_the_plan_only_reads(platform: Platform, make_domain: Any, unique_name: str, tmp_path: Path) -> None:
    make_domain(unique_name)
    converged(platform, unique_name)
    files = tmp_path / "change.yaml"  # a change, so that the plan also reads whole objects to diff them
    files.write_text(yaml.safe_dump(binding_doc(unique_name, "dev", quota={"pods": "30"})))

    def window() -> tuple[Counter[tuple[str, str, str]], ...] | None:
        """The requests each API server served while one plan ran; None if something else wrote."""
        clusters = ("host", *MEMBERS)
        before = [scrape(platform, c) for c in clusters]
        # Every member token counts as due for renewal: the operator would renew it (and write the
        # Secret) on its next use of the client; the plan never does.
        renew = {"BIZDOMAIN_TOKEN_RENEW_FRACTION": "0.00001"}
        code, plan, _ = run_plan(platform, "-f", str(files), "--domain", unique_name, env=renew)
        assert code == 2, plan
        deltas = tuple(scrape(platform, c) - b for c, b in zip(clusters, before, strict=True))
        others = [
            key
            for delta, resources in zip(deltas, (HOST_RESOURCES, MEMBER_RESOURCES, MEMBER_RESOURCES), strict=True)
            for key in delta
            if key[0] in WRITES and key[1] in resources and not key[2]
        ]
        return None if others else deltas

    host, *members = wait_until(window, timeout=30, interval=1, what="a window with no write")
    assert host[("LIST", "businessdomains", "")] >= 1
    assert host[("GET", "secrets", "")] >= 1  # the members' kubeconfigs, read like the operator reads them
    for member in members:
        assert member[("LIST", "rolebindings", "")] >= 1
    assert members[0][("GET", "resourcequotas", "")] >= 1  # the changed quota, read whole for its diff
