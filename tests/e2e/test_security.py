"""Security: the joined member identity, Kubernetes' own escalation check, domain isolation on
the host, and no credential in any log line, Event or status."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from bizdomain.plan.identity import member_rules, token_rules
from support.platform import MEMBERS, NAMESPACE, MakeDomain, Platform

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def member_kubeconfig(platform: Platform, member: str, tmp_path: Path) -> Path:
    secret = platform.require("secret", f"member-{member}", NAMESPACE)
    text = base64.b64decode(secret["data"]["kubeconfig"]).decode()
    path = tmp_path / f"{member}.kubeconfig"
    path.write_text(text)
    return path


def as_operator(
    platform: Platform, member: str, kubeconfig: Path, *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return platform.member(member).kubectl(f"--kubeconfig={kubeconfig}", *args, check=check)


@pytest.mark.parametrize("namespace", ["default", NAMESPACE])
def test_member_identity_has_exactly_the_documented_rights(platform: Platform, tmp_path: Path, namespace: str) -> None:
    """Cluster-wide rules everywhere; in its own namespace also the right to mint its own token."""
    kubeconfig = member_kubeconfig(platform, "dev", tmp_path)
    listing = as_operator(platform, "dev", kubeconfig, "auth", "can-i", "--list", "-n", namespace, check=True).stdout
    granted: dict[tuple[str, frozenset[str]], set[str]] = {}
    for line in listing.splitlines()[1:]:
        columns = re.split(r"\s{2,}", line.strip())
        resource, names, verbs = columns[0], columns[2] if len(columns) > 3 else "[]", columns[-1]
        key = (resource, frozenset(names.strip("[]").split()))
        granted.setdefault(key, set()).update(verbs.strip("[]").split())
    # every rule join grants shows up, and nothing beyond them and the defaults every user has
    expected: dict[tuple[str, frozenset[str]], set[str]] = {}
    for rule in member_rules([]) + (token_rules() if namespace == NAMESPACE else []):
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                base, _, sub = res.partition("/")
                resource = (f"{base}.{group}" if group else base) + (f"/{sub}" if sub else "")
                for name in rule.get("resourceNames") or [None]:  # kubectl prints one line per name
                    names = frozenset([name] if name else [])
                    expected.setdefault((resource, names), set()).update(rule["verbs"])
    for key, verbs in expected.items():
        assert granted.get(key, set()) >= verbs, f"{key} missing from:\n{listing}"
    # what every authenticated identity may do (system:basic-user, system:public-info-viewer, ...)
    defaults = {
        "selfsubjectreviews.authentication.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "clustertrustbundles.certificates.k8s.io",
        "",
    }
    extra = {k for k in granted if k not in expected and k[0] not in defaults and not k[0].startswith("[/")}
    assert extra == set(), f"the member identity has rights beyond join's rules: {extra}"


def test_member_identity_cannot_read_secrets_nor_bind_cluster_admin(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    make_domain(unique_name, envs=("dev",))
    kubeconfig = member_kubeconfig(platform, "dev", tmp_path)
    assert (
        as_operator(platform, "dev", kubeconfig, "auth", "can-i", "get", "secrets", "-n", unique_name).stdout.strip()
        == "no"
    )
    assert as_operator(platform, "dev", kubeconfig, "get", "secrets", "-n", unique_name).returncode != 0
    # asked directly, not through the operator: Kubernetes itself refuses the escalation
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "escalate", "namespace": unique_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    result = platform.member("dev").kubectl(
        f"--kubeconfig={kubeconfig}", "create", "-f", "-", input=json.dumps(binding), check=False
    )
    assert result.returncode != 0
    assert "forbidden" in result.stderr.lower()
    assert "attempting to grant RBAC permissions not currently held" in result.stderr


def test_domain_owners_edit_only_their_own_bindings(
    platform: Platform, make_domain: MakeDomain, unique_name: str
) -> None:
    mine, theirs = f"{unique_name}-a", f"{unique_name}-b"
    make_domain(mine, envs=())
    make_domain(theirs, envs=())
    owner = f"{mine}-owner@example.com"

    def can(verb: str, namespace: str) -> bool:
        result = platform.host.kubectl(
            "auth", "can-i", verb, "environmentbindings.bizdomain.io", "-n", namespace, f"--as={owner}", check=False
        )
        return result.stdout.strip() == "yes"

    assert can("create", f"domain-{mine}")
    assert can("patch", f"domain-{mine}")
    assert not can("create", f"domain-{theirs}")
    assert not can("get", f"domain-{theirs}")
    assert not can("create", "default")
    no = platform.host.kubectl("auth", "can-i", "patch", "businessdomains.bizdomain.io", f"--as={owner}", check=False)
    assert no.stdout.strip() == "no"


def test_no_credential_in_logs_events_or_status(
    platform: Platform, make_domain: MakeDomain, unique_name: str, tmp_path: Path
) -> None:
    make_domain(unique_name, envs=("dev", "prod"))
    secrets: list[str] = []
    for member in MEMBERS:
        config = yaml.safe_load(member_kubeconfig(platform, member, tmp_path).read_text())
        secrets.extend(u["user"]["token"] for u in config["users"])
    assert all(len(s) > 40 for s in secrets)
    haystacks = {"operator log": platform.operator.log()}
    for kind in ("events", "businessdomains", "environmentbindings", "memberclusters"):
        haystacks[kind] = platform.host.kubectl("get", kind, "-A", "-o", "json").stdout
    for member in MEMBERS:
        haystacks[f"{member} workspaces"] = platform.member(member).kubectl("get", "workspaces", "-o", "json").stdout
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a member token appears in {where}"
            assert secret[:24] not in text, f"a prefix of a member token appears in {where}"
        assert "BEGIN" not in text or "PRIVATE KEY" not in text, f"a private key appears in {where}"
        assert "client-key-data" not in text
