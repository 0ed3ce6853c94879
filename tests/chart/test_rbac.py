"""The operator with exactly the chart's RBAC on the host: it reconciles a domain with nothing
more, and when one permission is taken away it says so (403 naming the resource), stays up,
retries at its own pace, and recovers once the permission is back. The ServiceAccount's full
`kubectl auth can-i --list` is the one in charts/bizdomain/README.md.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from support import ClusterHandle, wait_until

from .conftest import CHART, DOMAIN_OWNER_ROLE, Domains, Member, Release, StartOperator
from .test_render import CLUSTER_RULES, NAMESPACE_RULES, grants

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

Row = tuple[str, str, str, str]  # kubectl auth can-i --list: resource, non-resource URLs, names, verbs
COLUMNS = ("Resources", "Non-Resource URLs", "Resource Names", "Verbs")


def parse_can_i(text: str) -> set[Row]:
    """The rows of `kubectl auth can-i --list`, split at the header's column starts."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.startswith(COLUMNS[0]))
    starts = [lines[header].index(column) for column in COLUMNS]
    ends: list[int | None] = [*starts[1:], None]
    rows = set()
    for line in lines[header + 1 :]:
        resources, urls, names, verbs = (line[start:end].strip() for start, end in zip(starts, ends, strict=True))
        rows.add((resources, urls, names, verbs))
    return rows


def row_grants(rows: set[Row]) -> set[tuple[str, str, str, str]]:
    """Resource rows as (group, resource, name, verb), like test_render.grants."""
    out: set[tuple[str, str, str, str]] = set()
    for resource, urls, names, verbs in rows:
        assert urls == "[]", f"a non-resource URL the cluster does not give everyone: {urls}"
        plural, _, rest = resource.partition(".")
        group, _, sub = rest.partition("/")
        if not sub and "/" in plural:
            plural, sub = plural.split("/", 1)
        name = plural + (f"/{sub}" if sub else "")
        for n in names.strip("[]").split() or ["*"]:
            out.update((group, name, n, verb) for verb in verbs.strip("[]").split())
    return out


def can_i_list(host: ClusterHandle, namespace: str, service_account: str) -> str:
    user = f"system:serviceaccount:{namespace}:{service_account}"
    return host.kubectl("auth", "can-i", "--list", "-n", namespace, as_user=user).stdout


def readme_can_i() -> str:
    text = (CHART / "README.md").read_text()
    match = re.search(r"<!-- can-i:start -->\s*```text\n(.*?)```\s*<!-- can-i:end -->", text, re.S)
    assert match, "charts/bizdomain/README.md has no can-i block"
    return match.group(1)


def test_the_service_account_may_do_exactly_what_the_chart_says(chart_release: Release) -> None:
    host, ns = chart_release.host, chart_release.namespace
    live = parse_can_i(can_i_list(host, ns, chart_release.service_account))
    everyone = parse_can_i(can_i_list(host, ns, "nobody"))  # what the cluster gives every account
    lease = (chart_release.lease,)
    ours = [(g, r, lease if n == ("bizdomain-leader",) else n, v) for g, r, n, v in CLUSTER_RULES + NAMESPACE_RULES]
    assert row_grants(live - everyone) == grants(ours)
    # The README records the same list (for a release named bizdomain).
    normalized = {tuple(c.replace(f"[{chart_release.lease}]", "[bizdomain-leader]") for c in row) for row in live}
    assert parse_can_i(readme_can_i()) == normalized


def test_the_operator_works_with_exactly_the_charts_rbac(
    chart_release: Release, member: Member, operators: StartOperator, domains: Domains, unique_name: str
) -> None:
    operator = operators("replica-a")
    domains.create(unique_name)
    # The tenant namespace on the member; the domain's namespace and owners' binding on the host.
    member.cluster.kubectl("get", "namespace", unique_name)
    owners = domains.platform.get("rolebinding", "bizdomain.io:owners", f"domain-{unique_name}")
    assert owners is not None
    assert owners["roleRef"]["name"] == DOMAIN_OWNER_ROLE
    assert owners["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                   "name": f"{unique_name}-owner@example.com"}]  # fmt: skip
    assert domains.platform.get("resourcequota", "bizdomain-bindings", f"domain-{unique_name}") is not None
    # Deletion too: the finalizer, the member's cleanup, the host namespace.
    domains.cleanup()
    domains.created.clear()

    def host_namespace_deleted() -> bool:
        ns = domains.platform.get("namespace", f"domain-{unique_name}")
        return ns is None or ns["status"]["phase"] == "Terminating"

    wait_until(host_namespace_deleted, timeout=30, what="the domain's host namespace deleted")
    assert operator.alive()
    log = operator.log()
    assert "Forbidden" not in log, "the operator was refused something"
    assert "ValidatingAdmissionPolicy" not in log, "the chart's host boundary refused the operator something"


def test_a_missing_permission_fails_cleanly(
    chart_release: Release, operators: StartOperator, domains: Domains, unique_name: str
) -> None:
    host = chart_release.host
    operator = operators("replica-a")
    domains.create(unique_name)
    role = chart_release.get("clusterrole", chart_release.fullname, namespaced=False)
    assert role is not None
    original: list[dict[str, Any]] = role["rules"]
    without_status = [r for r in original if not all(res.endswith("/status") for res in r["resources"])]
    assert len(without_status) == len(original) - 1

    def set_rules(rules: list[dict[str, Any]]) -> None:
        host.kubectl("patch", "clusterrole", chart_release.fullname, "--type=merge", "-p", json.dumps({"rules": rules}))

    set_rules(without_status)
    try:
        generation = domains.change(unique_name)
        refused = 'cannot patch resource "businessdomains/status" in API group "bizdomain.io"'
        wait_until(lambda: refused in operator.log(), timeout=30, what="the 403 in the operator's log")
        # Every refused request is one warning line (the API server counts no request its
        # authorizer turned down): count them over 10 s.
        seen, start = len(operator.log()), time.monotonic()
        time.sleep(10)
        window = operator.log()[seen:]
        seconds = time.monotonic() - start
        refusals = [line for line in window.splitlines() if "403 Forbidden" in line]
        print(f"\n{len(refusals)} refused requests in {seconds:.1f}s (resync 5 s):")
        print("\n".join(line[:200] for line in refusals))
        assert all('/status" in API group "bizdomain.io"' in line for line in refusals), "only status writes"
        # A retry with each sync pass (every 5 s, a few more when passes wake the status writer):
        # never a storm, never giving up.
        assert 1 <= len(refusals) <= 10
        assert operator.alive()
        assert operator.log().count("Activity 'on_startup' succeeded") == 1  # never restarted
        assert not domains.reconciled(unique_name, generation)
    finally:
        set_rules(original)
    wait_until(lambda: domains.reconciled(unique_name, generation), timeout=30, what="status written again")
    assert operator.alive()
