"""The chart as rendered by the pinned helm: lint, the exact RBAC, the Deployment's defaults, and
values reaching the operator's settings. No cluster needed (tests/chart/test_release.py applies it).
"""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
import yaml

from bizdomain import names
from bizdomain.config import Settings

from .conftest import CHART, DOMAIN_OWNER_ROLE, find, helm, render

Rule = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]

# Everything the operator may do on the host, cluster-wide: (apiGroups, resources, resourceNames, verbs).
# Widening the chart's ClusterRole fails this test; the README's can-i list is the same, live.
CLUSTER_RULES: list[Rule] = [
    (("bizdomain.io",), ("businessdomains", "environmentbindings", "memberclusters", "sandboxes"), (),
     ("list", "watch", "patch")),
    (("bizdomain.io",), ("sandboxes",), (), ("delete",)),
    (("bizdomain.io",), ("businessdomains/status", "environmentbindings/status", "memberclusters/status",
                         "sandboxes/status"), (), ("patch",)),
    (("",), ("namespaces",), (), ("list", "watch", "create", "patch", "delete")),
    (("rbac.authorization.k8s.io",), ("rolebindings",), (), ("list", "create", "patch", "delete")),
    (("",), ("resourcequotas",), (), ("list", "create", "patch", "delete")),
    (("rbac.authorization.k8s.io",), ("clusterroles",), (DOMAIN_OWNER_ROLE, "bizdomain.io:sandbox-creator"),
     ("bind",)),
    (("",), ("events",), (), ("create",)),
]  # fmt: skip
# ... and in the release namespace only: the members' kubeconfig Secrets, read by name, and the
# leader-election Lease.
LEASE_RULES: list[Rule] = [
    (("coordination.k8s.io",), ("leases",), (), ("create",)),
    (("coordination.k8s.io",), ("leases",), ("bizdomain-leader",), ("get", "update")),
]
# ... and a member's Secret is patched with its renewed token (tokenRenewal; RBAC has no name patterns).
NAMESPACE_RULES: list[Rule] = [(("",), ("secrets",), (), ("get",)), (("",), ("secrets",), (), ("patch",)), *LEASE_RULES]


def grants(rules: list[Rule]) -> set[tuple[str, str, str, str]]:
    """Every (group, resource, name, verb) the rules allow: grouping rules differently is no change."""
    return {
        (group, resource, name, verb)
        for groups, resources, names, verbs in rules
        for group, resource, name, verb in product(groups, resources, names or ("*",), verbs)
    }


def rules_of(obj: dict[str, Any]) -> list[Rule]:
    return [
        (
            tuple(r.get("apiGroups", ())),
            tuple(r.get("resources", ())),
            tuple(r.get("resourceNames", ())),
            tuple(r["verbs"]),
        )
        for r in obj["rules"]
    ]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(objects)["env"]}


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["metrics.serviceMonitor.enabled=true", "replicaCount=3", "logLevel=debug", "logFormat=plain"],
        ["replicaCount=1", "leaderElection.enabled=false", "image.digest=sha256:" + "0" * 64],
    ],
    ids=["defaults", "everything-on", "single-replica"],
)
def test_helm_lint(values: list[str]) -> None:
    sets = [arg for value in values for arg in ("--set", value)]
    result = helm("lint", "--strict", str(CHART), *sets)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_rbac_is_exactly_the_table() -> None:
    objects = render()
    roles = {o["metadata"]["name"] for o in objects if o["kind"] == "ClusterRole"}
    assert roles == {"bizdomain", DOMAIN_OWNER_ROLE, "bizdomain.io:sandbox-creator"}
    assert grants(rules_of(find(objects, "ClusterRole", "bizdomain"))) == grants(CLUSTER_RULES)
    role = find(objects, "Role")
    assert role["metadata"]["namespace"] == "bizdomain-system"
    assert grants(rules_of(role)) == grants(NAMESPACE_RULES)
    # Bound to the chart's ServiceAccount, nothing else.
    subject = {"kind": "ServiceAccount", "name": "bizdomain", "namespace": "bizdomain-system"}
    for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = find(objects, kind)
        assert binding["subjects"] == [subject]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": "bizdomain"}


def test_domain_owner_role_has_one_source() -> None:
    source = yaml.safe_load((CHART / "files" / "domain-owner-clusterrole.yaml").read_text())
    assert find(render(), "ClusterRole", DOMAIN_OWNER_ROLE) == source


def test_sandbox_role_and_policy_have_one_source() -> None:
    source = yaml.safe_load((CHART / "files" / "sandbox-creator-clusterrole.yaml").read_text())
    assert find(render(), "ClusterRole", "bizdomain.io:sandbox-creator") == source
    policies = list(yaml.safe_load_all((CHART / "files" / "sandbox-policy.yaml").read_text()))
    assert find(render(), "ValidatingAdmissionPolicy", "bizdomain-sandboxes") == policies[0]


def test_sandboxes_are_never_allowed_in_a_protected_environment() -> None:
    with pytest.raises(AssertionError, match="protected environment"):
        render("sandboxes.environments={dev,prod}")


def test_no_lease_without_leader_election() -> None:
    objects = render("replicaCount=1", "leaderElection.enabled=false")
    assert grants(rules_of(find(objects, "Role"))) == grants([r for r in NAMESPACE_RULES if r not in LEASE_RULES])
    assert not [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert not [a for a in container(objects)["args"] if a.startswith("--lease") or a == "--leader-election"]


def test_token_renewal_rights_can_be_narrowed_or_dropped() -> None:
    narrowed = rules_of(find(render("tokenRenewal.secretNames={member-dev,member-prod}"), "Role"))
    assert (("",), ("secrets",), ("member-dev", "member-prod"), ("patch",)) in narrowed
    assert (("",), ("secrets",), (), ("patch",)) not in narrowed
    dropped = rules_of(find(render("tokenRenewal.enabled=false"), "Role"))
    assert not [r for r in dropped if "patch" in r[3]]


def test_more_than_one_replica_needs_leader_election() -> None:
    result = helm("template", "x", str(CHART), "--set", "leaderElection.enabled=false", check=False)
    assert result.returncode != 0
    assert "replicaCount > 1 needs leaderElection.enabled" in result.stderr


def test_lease_settings() -> None:
    objects = render("leaderElection.leaseName=ops-leader", "leaderElection.leaseDurationSeconds=30",
                     "leaderElection.leaseRetrySeconds=5")  # fmt: skip
    assert container(objects)["args"][-4:] == [
        "--leader-election", "--lease-name=ops-leader", "--lease-duration=30", "--lease-retry=5",
    ]  # fmt: skip
    names = {n for _, _, ns, _ in rules_of(find(objects, "Role")) for n in ns}
    assert names == {"ops-leader"}


def test_deployment_defaults() -> None:
    objects = render()
    deployment = find(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert find(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "bizdomain"
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = container(objects)
    assert c["image"] == "ghcr.io/bizdomain/bizdomain:0.1.0"
    assert c["args"] == [
        "--liveness=http://0.0.0.0:8081/healthz",
        "--metrics-port=8080",
        "--metrics-address=0.0.0.0",
        "--log-format=json",
        "--leader-election",
        "--lease-name=bizdomain-leader",
        "--lease-duration=15",
        "--lease-retry=2",
    ]
    assert "command" not in c  # the image's entrypoint: python -m bizdomain
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 8080, "health": 8081}
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["resources"]["requests"]
    assert c["resources"]["limits"]["memory"]
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}  # the only writable path
    env = env_of(objects)
    assert env["BIZDOMAIN_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    service = find(objects, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_values_reach_the_operator_settings() -> None:
    objects = render(
        "resyncSeconds=17",
        "relistSeconds=120",
        "allowedClusterRoles={view,edit}",
        "protectedNamespaces={default,platform}",
        "protectedEnvironments={prod,staging}",
        "maxBindingsPerDomain=3",
        "logLevel=debug",
        "allowUnsafeKubeconfigs=true",
        "tokenRenewal.renewFraction=0.66",
        "podSecurity=baseline\\,prod=restricted",
        "deployerNamespaces={ci,release}",
        namespace="ops",
    )
    env = {k: v for k, v in env_of(objects).items() if isinstance(v, str)}
    settings = Settings.from_env({**env, "BIZDOMAIN_NAMESPACE": "ops"})
    assert settings.resync_seconds == 17
    assert settings.relist_seconds == 120
    assert settings.allowed_cluster_roles == ("view", "edit")
    assert settings.protected_namespaces == ("default", "platform")
    assert settings.protected_environments == ("prod", "staging")
    assert settings.allow_unsafe_kubeconfigs
    assert settings.token_renew_fraction == 0.66
    assert settings.max_bindings_per_domain == 3
    assert settings.pod_security_level("prod") == "restricted"
    assert settings.pod_security_level("dev") == "baseline"
    assert settings.deployer_namespaces == ("ci", "release")
    assert "--verbose" in container(objects)["args"]
    defaults = Settings.from_env({k: v for k, v in env_of(render()).items() if isinstance(v, str)})
    assert defaults.relist_seconds == Settings().relist_seconds
    assert defaults.allowed_cluster_roles == Settings().allowed_cluster_roles
    assert defaults.protected_namespaces == Settings().protected_namespaces
    assert defaults.protected_environments == Settings().protected_environments
    assert defaults.allow_unsafe_kubeconfigs is Settings().allow_unsafe_kubeconfigs is False
    assert defaults.token_renew_fraction == Settings().token_renew_fraction
    assert defaults.max_bindings_per_domain == Settings().max_bindings_per_domain
    assert defaults.pod_security == Settings().pod_security
    assert defaults.deployer_namespaces == Settings().deployer_namespaces


def test_cluster_admin_cannot_be_allow_listed() -> None:
    result = helm("template", "x", str(CHART), "--set", "allowedClusterRoles={cluster-admin}", check=False)
    assert result.returncode != 0
    assert "cluster-admin can never be allow-listed" in result.stderr


def test_service_monitor_is_optional() -> None:
    assert not [o for o in render() if o["kind"] == "ServiceMonitor"]
    objects = render("metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prom")
    monitor = find(objects, "ServiceMonitor")
    service = find(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert all(service["metadata"]["labels"][k] == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_the_host_boundary_names_exactly_what_the_operator_makes() -> None:
    """The policy spells the operator's host names out: each must be the one the operator writes."""
    policy = find(render(), "ValidatingAdmissionPolicy", "bizdomain-operator-host-boundary")
    text = yaml.safe_dump(policy["spec"], width=10_000)
    for name in (names.OWNERS_BINDING, names.SANDBOXERS_BINDING, names.HOST_OWNER_ROLE, names.HOST_SANDBOX_ROLE,
                 names.HOST_QUOTA_NAME, names.LABEL_MANAGED_BY, names.LABEL_COMPONENT, names.LABEL_DOMAIN):  # fmt: skip
        assert f"'{name}'" in text, name
    assert f"'{names.MANAGED_BY_VALUE}'" in text
    assert f"'{names.COMPONENT_HOST}'" in text
    assert f"'{Settings().domain_namespace_prefix}' + variables.domain" in text
    moved = render("extraEnv[0].name=BIZDOMAIN_DOMAIN_NAMESPACE_PREFIX", "extraEnv[0].value=team-")
    text = yaml.safe_dump(find(moved, "ValidatingAdmissionPolicy", "bizdomain-operator-host-boundary")["spec"])
    assert "'team-' + variables.domain" in text
