"""Bad input, table-driven: malformed and hostile objects are refused at admission (schema, CEL)
where the API server can say so, otherwise reported in status; in every case nothing on any
member is created, changed or deleted wrongly (a snapshot of each member before and after)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from support.platform import MEMBERS, Platform, binding_doc, domain_doc

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]
Doc = dict[str, Any]
KINDS = "namespaces,rolebindings,resourcequotas,limitranges,networkpolicies,workspaces"


def with_spec(doc: Doc, **spec: Any) -> Doc:
    out = copy.deepcopy(doc)
    out["spec"].update(spec)
    return out


def member_doc(name: str, **spec: Any) -> Doc:
    body = {"kubeconfigSecretRef": {"name": f"member-{name}"}, "environments": ["dev"], **spec}
    return {"apiVersion": "bizdomain.io/v1alpha1", "kind": "MemberCluster", "metadata": {"name": name}, "spec": body}


@dataclass(frozen=True)
class Case:
    """Valid `setup` docs first (waited Ready), then the `bad` docs; `refused` or `reason` is expected."""

    id: str
    bad: Callable[[str], list[Doc]]
    refused: str = ""  # a substring of kubectl's error when admission refuses
    reason: str = ""  # else the binding's Ready=False reason (or a message substring with `message`)
    message: str = ""
    setup: Callable[[str], list[Doc]] = field(default=lambda d: [])
    binding: str = "dev"  # whose status to read


def D(d: str, **spec: Any) -> Doc:  # a short name: the table reads better
    return domain_doc(d, **spec)


def B(d: str, env: str = "dev", **spec: Any) -> Doc:
    return binding_doc(d, env, **spec)


def S(d: str, name: str = "feature-x", **spec: Any) -> Doc:  # a Sandbox of domain d
    body = {"environment": "dev", "owner": "mallory@example.com", "ttl": "2h", **spec}
    meta = {"name": name, "namespace": f"domain-{d}"}
    return {"apiVersion": "bizdomain.io/v1alpha1", "kind": "Sandbox", "metadata": meta, "spec": body}


def renamed(doc: Doc, name: str) -> Doc:
    out = copy.deepcopy(doc)
    out["metadata"]["name"] = name
    return out


ROBOT = {"kind": "Robot", "name": "r2d2"}
# The default quota of domain_doc (requests.cpu 4, pods 20) on one namespace fits; 100000 does not.
BUDGET_HARD = {"requests.cpu": "8", "pods": "40"}
BUDGET: list[dict[str, Any]] = [{"environment": "dev", "hard": BUDGET_HARD}]
SA_NO_NS = {"kind": "ServiceAccount", "name": "ci"}
CASES = [
    # --- BusinessDomain, refused at admission
    Case("domain-name-uppercase", lambda d: [renamed(D(d), d.upper())], refused="lowercase"),
    Case("domain-name-too-long", lambda d: [renamed(D(d), "x" * 41)], refused="at most 40 characters"),
    Case("domain-name-starts-with-digit", lambda d: [renamed(D(d), "9" + d)], refused="starting with a letter"),
    Case("display-name-empty", lambda d: [D(d, displayName="")], refused="spec.displayName"),
    Case("display-name-too-long", lambda d: [D(d, displayName="长" * 129)], refused="Too long"),
    Case("description-too-long", lambda d: [D(d, description="x" * 2049)], refused="Too long"),
    Case("no-owners", lambda d: [D(d, owners=[])], refused="spec.owners"),
    Case("subject-kind-robot", lambda d: [D(d, owners=[ROBOT])], refused='Unsupported value: "Robot"'),
    Case("sa-without-namespace", lambda d: [D(d, owners=[SA_NO_NS])], refused="namespace is required"),
    Case("user-with-namespace", lambda d: [D(d, owners=[{"kind": "User", "name": "u", "namespace": "x"}])],
         refused="not allowed for a User"),
    Case("user-system-admin", lambda d: [D(d, owners=[{"kind": "User", "name": "system:admin"}])],
         refused="system: identity"),
    Case("group-system-masters", lambda d: [D(d, owners=[{"kind": "Group", "name": "system:masters"}])],
         refused="may not name a system: group"),
    Case("group-system-scoped", lambda d: [D(d, owners=[{"kind": "Group", "name": "system:serviceaccounts:ci"}])],
         refused="may not name a system: group"),
    Case("member-system-group", lambda d: [D(d, departments=[{"name": "ops", "members": [
         {"kind": "Group", "name": "system:monitoring"}]}])], refused="may not name a system: group"),
    Case("owner-sa-kube-system", lambda d: [D(d, owners=[
         {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}])], refused="kube-* namespace"),
    Case("member-sa-operator-namespace", lambda d: [D(d, departments=[{"name": "ops", "members": [
         {"kind": "ServiceAccount", "name": "bizdomain", "namespace": "bizdomain-system"}]}])],
         refused="the operator's namespace (bizdomain-system)"),
    Case("quota-negative", lambda d: [D(d, quota={"cpu": "-1"})], refused="non-negative Kubernetes quantity"),
    Case("quota-negative-int", lambda d: [D(d, quota={"pods": -5})], refused="non-negative Kubernetes quantity"),
    Case("quota-malformed", lambda d: [D(d, quota={"cpu": "4 cores"})], refused="non-negative Kubernetes quantity"),
    Case("quota-key-with-space", lambda d: [D(d, quota={"my cpu": "1"})], refused="resource names"),
    Case("limits-negative", lambda d: [D(d, limits={"default": {"cpu": "-500m"}})],
         refused="non-negative Kubernetes quantity"),
    Case("project-default", lambda d: [D(d, projects=[{"name": "default"}])], refused="may not be named default"),
    Case("project-kube-system", lambda d: [D(d, projects=[{"name": "kube-system"}])], refused="start with kube-"),
    Case("project-bad-name", lambda d: [D(d, projects=[{"name": "Web_App"}])], refused="spec.projects[0].name"),
    Case("duplicate-department", lambda d: [D(d, departments=[{"name": "qa"}, {"name": "qa"}])],
         refused="Duplicate value"),
    Case("duplicate-project", lambda d: [D(d, projects=[{"name": "a"}, {"name": "a"}])], refused="Duplicate value"),
    Case("too-many-departments", lambda d: [D(d, departments=[{"name": f"d{i}"} for i in range(51)])],
         refused="must have at most 50 items"),
    Case("unknown-field", lambda d: [D(d, colour="blue")], refused='unknown field "spec.colour"'),
    Case("deletion-policy-destroy", lambda d: [D(d, deletionPolicy="Destroy")], refused='Unsupported value: "Destroy"'),
    # --- EnvironmentBinding, refused at admission
    Case("role-cluster-admin", lambda d: [B(d, access=[{"department": "sre", "role": "cluster-admin"}])],
         refused="can never be granted", setup=lambda d: [D(d)]),
    Case("role-system", lambda d: [B(d, access=[{"department": "sre", "role": "system:aggregate-to-edit"}])],
         refused="can never be granted", setup=lambda d: [D(d)]),
    Case("role-malformed", lambda d: [B(d, access=[{"department": "sre", "role": "Admin!"}])],
         refused="spec.access[0].role", setup=lambda d: [D(d)]),
    Case("binding-name-not-environment", lambda d: [renamed(B(d), "development")],
         refused="named after its environment", setup=lambda d: [D(d)]),
    Case("template-without-project", lambda d: [B(d, namespaceTemplate="{domain}-{environment}")],
         refused="must contain {project}", setup=lambda d: [D(d)]),
    Case("template-unknown-placeholder", lambda d: [B(d, namespaceTemplate="{foo}-{project}")],
         refused="spec.namespaceTemplate", setup=lambda d: [D(d)]),
    Case("clusters-names-and-selector",
         lambda d: [B(d, clusters={"names": ["dev"], "selector": {"matchLabels": {"a": "b"}}})],
         refused="not both", setup=lambda d: [D(d)]),
    Case("environment-too-long", lambda d: [renamed(B(d, environment="e" * 21), "e" * 21)],
         refused="spec.environment", setup=lambda d: [D(d)]),
    Case("duplicate-access-entry",
         lambda d: [B(d, access=[{"department": "sre", "role": "admin"}, {"department": "sre", "role": "viewer"}])],
         refused="Duplicate value", setup=lambda d: [D(d)]),
    Case("deployer-kind-robot", lambda d: [B(d, deployers=[ROBOT])], refused='Unsupported value: "Robot"',
         setup=lambda d: [D(d)]),
    Case("deployer-sa-kube-system", lambda d: [B(d, deployers=[
         {"kind": "ServiceAccount", "name": "namespace-controller", "namespace": "kube-system"}])],
         refused="kube-* namespace", setup=lambda d: [D(d)]),
    Case("deployer-sa-operator-namespace", lambda d: [B(d, deployers=[
         {"kind": "ServiceAccount", "name": "bizdomain", "namespace": "bizdomain-system"}])],
         refused="the operator's namespace (bizdomain-system)", setup=lambda d: [D(d)]),
    Case("deployer-system-group", lambda d: [B(d, deployers=[{"kind": "Group", "name": "system:serviceaccounts"}])],
         refused="may not name a system: group", setup=lambda d: [D(d)]),
    Case("deployer-system-user", lambda d: [B(d, deployers=[{"kind": "User", "name": "system:kube-scheduler"}])],
         refused="may not name a system: identity", setup=lambda d: [D(d)]),
    Case("environment-changed", lambda d: [with_spec(B(d, "dev"), environment="prod")],
         refused="environment is immutable", setup=lambda d: [D(d), B(d)]),
    # --- MemberCluster, refused at admission
    Case("member-no-environments", lambda d: [member_doc(d, environments=[])], refused="spec.environments"),
    Case("member-no-secret", lambda d: [{**member_doc(d), "spec": {"environments": ["dev"]}}],
         refused="spec.kubeconfigSecretRef"),
    Case("member-name-uppercase", lambda d: [renamed(member_doc(d), d.upper())], refused="lowercase"),
    # --- accepted by the API server, refused by the operator in status (the tenant is frozen)
    Case("unknown-department", lambda d: [B(d, access=[{"department": "marketing", "role": "viewer"}])],
         reason="UnknownDepartment", setup=lambda d: [D(d), B(d)]),
    Case("role-not-allow-listed", lambda d: [B(d, access=[{"department": "sre", "role": "edit"}])],
         reason="RoleNotAllowed", setup=lambda d: [D(d), B(d)]),
    Case("namespace-too-long", lambda d: [B(d, namespaceTemplate="{domain}-{project}-{environment}-{project}")],
         reason="InvalidSpec", setup=lambda d: [D(d, projects=[{"name": "p" * 40}]), B(d)]),
    Case("unknown-cluster", lambda d: [B(d, clusters={"names": ["dev", "nowhere"]})], reason="UnknownCluster",
         setup=lambda d: [D(d)]),
    Case("no-cluster-serves-environment", lambda d: [B(d, "staging")], reason="NoClusters", binding="staging",
         setup=lambda d: [D(d)]),
    Case("template-with-literal-text", lambda d: [B(d, namespaceTemplate="kube-{project}")],
         refused="may only join {domain}, {project} and {environment}", setup=lambda d: [D(d)]),
    Case("cluster-of-another-environment", lambda d: [B(d, "qa", clusters={"names": ["dev"]})],
         reason="ClusterNotInEnvironment", binding="qa", setup=lambda d: [D(d), B(d)]),
    Case("delete-in-prod", lambda d: [B(d, "prod", deletionPolicy="Delete")], binding="prod",
         message="not allowed in the protected environment", setup=lambda d: [D(d)]),
    # --- domain budgets: refused at admission where the object alone says so ...
    Case("budget-negative", lambda d: [D(d, budgets=[{"environment": "dev", "hard": {"requests.cpu": "-1"}}])],
         refused="non-negative Kubernetes quantity"),
    Case("budget-malformed", lambda d: [D(d, defaultBudget={"pods": "lots"})],
         refused="non-negative Kubernetes quantity"),
    Case("budget-duplicate-environment", lambda d: [D(d, budgets=[{"environment": "dev", "hard": {"pods": "1"}},
         {"environment": "dev", "hard": {"pods": "9"}}])], refused="Duplicate value"),
    Case("project-quota-negative", lambda d: [B(d, projectQuotas=[{"project": d, "hard": {"pods": -1}}])],
         refused="non-negative Kubernetes quantity", setup=lambda d: [D(d)]),
    Case("project-quota-duplicate", lambda d: [B(d, projectQuotas=[{"project": d, "hard": {"pods": "1"}},
         {"project": d, "hard": {"pods": "2"}}])], refused="Duplicate value", setup=lambda d: [D(d)]),
    Case("binding-sets-a-budget", lambda d: [B(d, budgets=[{"environment": "dev", "hard": {"pods": "999"}}])],
         refused='unknown field "spec.budgets"', setup=lambda d: [D(d)]),
    Case("quota-over-budget", lambda d: [B(d, quota={"requests.cpu": "100000"})],
         refused="one namespace's quota may not be more than the domain's whole budget in dev (",
         setup=lambda d: [D(d, budgets=BUDGET), B(d)]),
    Case("project-quota-over-budget", lambda d: [B(d, projectQuotas=[{"project": d, "hard": {"pods": "1e3"}}])],
         refused="may not be more than the domain's whole budget", setup=lambda d: [D(d, budgets=BUDGET), B(d)]),
    Case("default-budget-over", lambda d: [B(d, quota={"pods": "41"})], refused="whole budget in dev (pods 40)",
         setup=lambda d: [D(d, defaultBudget={"pods": "40"})]),
    Case("limits-lifted", lambda d: [B(d, limits={"max": {"cpu": "64"}})],
         refused="container limits may not be above the domain's limits.max (cpu 2)",
         setup=lambda d: [D(d, limits={"default": {"cpu": "500m"}, "max": {"cpu": "2"}}), B(d)]),
    Case("limits-default-lifted", lambda d: [B(d, limits={"defaultRequest": {"cpu": "3"}})],
         refused="container limits may not be above", setup=lambda d: [D(d, limits={"max": {"cpu": "2"}}), B(d)]),
    # a quantity so large that summing or showing it raised inside the planner, stopping every domain's
    # passes on the member; budgeted under a name with "/" (no host annotation, so the policy cannot judge)
    Case("quota-absurd-exponent", lambda d: [B(d, quota={"count/pods": "1e5000"})], refused="at most 8Ei",
         setup=lambda d: [D(d, quota={"requests.cpu": "4", "pods": "20", "count/pods": "10"},
                            budgets=[{"environment": "dev", "hard": {"count/pods": "40"}}]), B(d)]),
    # ... and frozen in status (BudgetExceeded, LimitsExceeded) where it needs more than the binding and
    # its domain's namespace: the sum over every project and cluster, a budget or ceiling changed later
    Case("split-over-budget", lambda d: [B(d, quota={"requests.cpu": "5"})], reason="BudgetExceeded",
         message="2 namespace(s) would allocate 10",
         setup=lambda d: [D(d, budgets=BUDGET, projects=[{"name": f"{d}-0"}, {"name": f"{d}-1"}]), B(d)]),
    Case("many-projects-over-budget",
         lambda d: [D(d, budgets=BUDGET, projects=[{"name": f"{d}-{i}"} for i in range(3)])],
         reason="BudgetExceeded", setup=lambda d: [D(d, budgets=BUDGET, projects=[{"name": f"{d}-0"}]), B(d)]),
    Case("budgeted-resource-unbounded", lambda d: [D(d, budgets=[{"environment": "dev",
         "hard": {**BUDGET_HARD, "requests.memory": "1Gi"}}])], reason="BudgetExceeded",
         message="unbounded", setup=lambda d: [D(d, budgets=BUDGET), B(d)]),
    Case("budget-lowered",
         lambda d: [D(d, budgets=[{"environment": "dev", "hard": {"requests.cpu": "1", "pods": "5"}}])],
         reason="BudgetExceeded", message="budget of 1", setup=lambda d: [D(d, budgets=BUDGET), B(d)]),
    Case("ceiling-lowered", lambda d: [D(d, limits={"default": {"cpu": "500m"}, "max": {"cpu": "500m"}})],
         reason="LimitsExceeded", message="limits.max.cpu 1 is above",
         setup=lambda d: [D(d, limits={"default": {"cpu": "500m"}, "max": {"cpu": "2"}}),
                          B(d, limits={"max": {"cpu": "1"}})]),
    # --- "--" is reserved for sandbox namespaces ({project}--{sandbox}): no baseline name may hold it
    Case("domain-name-double-dash", lambda d: [renamed(D(d), f"{d}--x")], refused="may not contain '--'"),
    Case("project-double-dash", lambda d: [D(d, projects=[{"name": "api--x"}])], refused="reserved for sandboxes"),
    Case("template-double-dash", lambda d: [B(d, namespaceTemplate="{project}--{environment}")],
         refused="reserved for sandboxes", setup=lambda d: [D(d)]),
    # --- Sandbox, refused at admission (schema, CEL, the host policy bizdomain-sandboxes)
    Case("sandbox-name-double-dash", lambda d: [S(d, "a--b")], refused="without '--'", setup=lambda d: [D(d)]),
    Case("sandbox-ttl-days", lambda d: [S(d, ttl="2d")], refused="spec.ttl", setup=lambda d: [D(d)]),
    Case("sandbox-in-someone-elses-name", lambda d: [S(d)], refused="spec.owner must be you",
         setup=lambda d: [D(d), B(d)]),
    Case("sandbox-in-prod", lambda d: [S(d, environment="prod")], refused="bizdomain sandboxes",
         setup=lambda d: [D(d), B(d), B(d, "prod")]),
    Case("sandbox-no-owner", lambda d: [S(d, owner="")], refused="spec.owner", setup=lambda d: [D(d)]),
]  # fmt: skip


def snapshot(platform: Platform, domain: str) -> dict[str, Any]:
    """Every member's namespaces (uid, labels) and every object of the domain (resourceVersion)."""
    out: dict[str, Any] = {}
    for member in MEMBERS:
        k = platform.member(member)
        for ns in json.loads(k.kubectl("get", "namespaces", "-o", "json").stdout)["items"]:
            meta = ns["metadata"]
            labels = meta.get("labels") or {}
            if labels.get("bizdomain.io/domain", domain) != domain or "bizdomain.test/created-by" in labels:
                continue  # another test's namespace, possibly still being cleaned up
            terminating = bool(meta.get("deletionTimestamp"))
            out[f"{member}/ns/{meta['name']}"] = (
                meta["uid"],
                json.dumps(meta.get("labels"), sort_keys=True),
                terminating,
            )
        items = json.loads(k.kubectl("get", KINDS, "-A", "-o", "json", "-l", f"bizdomain.io/domain={domain}").stdout)
        for obj in items["items"]:
            meta = obj["metadata"]
            out[f"{member}/{obj['kind']}/{meta.get('namespace')}/{meta['name']}"] = meta["resourceVersion"]
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(platform: Platform, unique_name: str, case: Case) -> None:
    d = unique_name
    try:
        for doc in case.setup(d):
            platform.apply(doc)
            if doc["kind"] == "BusinessDomain":
                platform.wait_host_namespace(d)
        for doc in case.setup(d):
            if doc["kind"] == "EnvironmentBinding":
                platform.wait_binding(d, doc["spec"]["environment"])
        before = snapshot(platform, d)
        text = "\n---\n".join(yaml.safe_dump(doc, allow_unicode=True) for doc in case.bad(d))
        result = platform.host.kubectl("apply", "-f", "-", input=text, check=False)
        if case.refused:
            assert result.returncode != 0, f"accepted: {result.stdout}"
            assert case.refused in result.stderr, result.stderr
        else:
            assert result.returncode == 0, result.stderr
            if case.reason:
                binding = platform.wait_reason(d, case.binding, case.reason)
            else:
                binding = platform.wait_binding(d, case.binding)
            cond = platform.condition(binding)
            if case.reason:
                assert cond["reason"] == case.reason, cond
            assert case.message in cond["message"], cond
            events = platform.host.kubectl("get", "events", "-n", f"domain-{d}", "-o", "json").stdout
            if case.reason in {"UnknownDepartment", "RoleNotAllowed", "NamespaceConflict", "NamespaceProtected",
                               "BudgetExceeded", "LimitsExceeded"}:  # fmt: skip
                assert case.reason in {e["reason"] for e in json.loads(events)["items"]}
        after = snapshot(platform, d)
        # a namespace already terminating before the case (another test's cleanup) may be gone after it
        for key in [k for k, v in before.items() if isinstance(v, tuple) and v[2] and k not in after]:
            del before[key]
        if case.id in {"no-cluster-serves-environment", "delete-in-prod", "unknown-cluster"}:  # fmt: skip
            # these create (only) what the valid part of the binding asks for; nothing else moved
            changed = {k for k in before if before[k] != after.get(k)}
            assert changed == set(), changed
        elif case.reason in {"UnknownDepartment", "RoleNotAllowed", "InvalidSpec", "BudgetExceeded", "LimitsExceeded"}:
            # frozen fails safe: nothing created, no namespace touched, nothing widened; a RoleBinding
            # the binding no longer names is revoked, and the Workspace's status says why
            assert set(after) <= set(before), set(after) - set(before)
            moved = {k for k in after if after[k] != before[k] and "/Workspace/" not in k}
            assert moved == set(), moved
            assert {k for k in before if k not in after} <= {k for k in before if "/RoleBinding/" in k}
        else:
            assert after == before
    finally:
        platform.delete("businessdomain", d, wait=False)
