"""What `bizdomain join` leaves on a member, and the operator's own member credentials over time.

1. The member token is short-lived and the operator renews it: joined with a 10-minute token and a
   renewal threshold of 2 % of its lifetime, the host Secret's token changes (same ServiceAccount,
   same lifetime) again and again, with no re-join, and a change still converges on the member.
2. A kubeconfig Secret that names an exec plugin is refused: the MemberCluster says why, and the
   plugin (which would create a marker file) never runs.
3. The platform objects are join's: with one of bizdomain's ClusterRoles deleted on a member the
   operator does not put it back, says PlatformNotInstalled ("run `bizdomain join`") and applies
   nothing there; a re-join heals it.
4. `bizdomain unjoin` removes the identity, its token Role and its admission policy on the member,
   and the Secret and MemberCluster on the host; the platform roles and the CRD stay.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bizdomain.members.tokens import claims
from localcluster.harness import join_member
from support import wait_until
from support.platform import NAMESPACE, ROOT, MakeDomain, Platform, binding_doc

from .conftest import Faults
from .probes import member_ready, quotas

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def join(platform: Platform, member: str, *extra: str) -> None:
    """`bizdomain join` of a local member serving the environment of its own name."""
    join_member(
        platform.host.kubeconfig, platform.member(member).kubeconfig, member, [member], namespace=NAMESPACE, extra=extra
    )


def member_token(platform: Platform, member: str) -> str:
    secret = platform.require("secret", f"member-{member}", NAMESPACE)
    config = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    return str(config["users"][0]["user"]["token"])


def restart_operator(platform: Platform, **env: str) -> None:
    operator = platform.operator
    for key in [k for k in operator.env if k.startswith("BIZDOMAIN_TOKEN_")]:
        del operator.env[key]
    operator.env.update(env)
    operator.stop()
    operator.start()


def test_member_token_is_renewed_without_a_rejoin(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    make_domain(unique_name, envs=("dev",))
    faults.undo("join dev again with the default token", lambda: join(platform, "dev"))
    faults.undo("restart the operator with the default renewal", lambda: restart_operator(platform))
    join(platform, "dev", "--token-hours", str(11 / 60))
    first = claims(member_token(platform, "dev"))
    assert first is not None
    assert 600 <= first.lifetime <= 700
    restart_operator(platform, BIZDOMAIN_TOKEN_RENEW_FRACTION="0.02")  # due after about 13 s

    seen = [member_token(platform, "dev")]

    def renewed() -> bool:
        token = member_token(platform, "dev")
        if token != seen[-1]:
            seen.append(token)
        return len(seen) >= 3

    wait_until(renewed, timeout=90, interval=0.5, what="the member token renewed twice")
    for token in seen[1:]:
        found = claims(token)
        assert found is not None
        assert found.subject == first.subject == f"system:serviceaccount:{NAMESPACE}:bizdomain-operator"
        assert found.lifetime == pytest.approx(first.lifetime, abs=5)
        assert found.issued >= first.issued
    # the operator keeps converging with the renewed credentials
    platform.apply(binding_doc(unique_name, "dev", quota={"pods": "7"}))
    wait_until(
        lambda: quotas(platform.member("dev"), unique_name).get(unique_name, {}).get("pods") == "7",
        timeout=60,
        what="the new quota on dev",
    )
    assert member_ready(platform, "dev").get("status") == "True"
    log = platform.operator.log()
    assert "member token renewed" in log
    assert not any(token in log or token[:24] in log for token in seen)


def test_a_kubeconfig_with_an_exec_plugin_is_refused_and_never_run(
    platform: Platform, unique_name: str, tmp_path: Path
) -> None:
    marker = tmp_path / "plugin-ran"
    server = platform.member("dev").server
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "m", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": "touch", "args": [str(marker)],
            "interactiveMode": "Never",
        }}}],
        "contexts": [{"name": "m", "context": {"cluster": "m", "user": "u"}}],
        "current-context": "m",
    }  # fmt: skip
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"member-{unique_name}", "namespace": NAMESPACE},
        "stringData": {"kubeconfig": yaml.safe_dump(kubeconfig)},
    }
    member = {
        "apiVersion": "bizdomain.io/v1alpha1",
        "kind": "MemberCluster",
        "metadata": {"name": unique_name},
        "spec": {"kubeconfigSecretRef": {"name": f"member-{unique_name}"}, "environments": [f"{unique_name}-env"]},
    }
    try:
        platform.apply(secret, member)
        ready = wait_until(
            lambda: (c := member_ready(platform, unique_name)).get("reason") == "CredentialsInvalid" and c,
            timeout=60,
            what="the MemberCluster refused",
        )
        assert ready["status"] == "False"
        assert "user 'u' names 'exec'" in ready["message"]
        assert "BIZDOMAIN_ALLOW_UNSAFE_KUBECONFIGS" in ready["message"]
        assert not marker.exists()
    finally:
        platform.delete("membercluster", unique_name)
        platform.delete("secret", f"member-{unique_name}", NAMESPACE)
    assert not marker.exists()


def test_missing_platform_roles_stop_the_member_until_rejoined(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    make_domain(unique_name, envs=("dev",))
    dev = platform.member("dev")
    faults.undo("join dev again", lambda: join(platform, "dev"))
    dev.kubectl("delete", "clusterrole", "bizdomain.io:viewer")
    ready = wait_until(
        lambda: (c := member_ready(platform, "dev")).get("reason") == "PlatformNotInstalled" and c,
        timeout=60,
        what="MemberCluster dev PlatformNotInstalled",
    )
    assert "bizdomain.io:viewer" in ready["message"]
    assert "run `bizdomain join` for this member" in ready["message"]
    # nothing is applied there meanwhile, and the role is not put back by the operator
    platform.apply(binding_doc(unique_name, "dev", quota={"pods": "9"}))
    wait_until(
        lambda: member_ready(platform, "dev").get("reason") == "PlatformNotInstalled",
        timeout=30,
        what="still PlatformNotInstalled after a change",
    )
    assert quotas(dev, unique_name)[unique_name].get("pods") != "9"
    assert dev.kubectl("get", "clusterrole", "bizdomain.io:viewer", check=False).returncode != 0
    join(platform, "dev")
    wait_until(lambda: member_ready(platform, "dev").get("status") == "True", timeout=60, what="dev Ready again")
    wait_until(
        lambda: quotas(dev, unique_name)[unique_name].get("pods") == "9", timeout=60, what="the change reaches dev"
    )
    role = json.loads(dev.kubectl("get", "clusterrole", "bizdomain.io:viewer", "-o", "json").stdout)
    assert role["metadata"]["labels"]["bizdomain.io/component"] == "platform"


def test_unjoin_removes_the_identity_and_its_bounds_but_not_the_platform(platform: Platform, faults: Faults) -> None:
    dev = platform.member("dev")
    faults.undo("join dev again", lambda: join(platform, "dev"))
    subprocess.run(
        [
            sys.executable, "-m", "bizdomain.cli", "unjoin",
            "--host-kubeconfig", str(platform.host.kubeconfig),
            "--member-kubeconfig", str(dev.kubeconfig),
            "--name", "dev", "--namespace", NAMESPACE,
        ],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert platform.get("membercluster", "dev") is None
    assert platform.get("secret", "member-dev", NAMESPACE) is None
    for kind, name, namespace in (
        ("serviceaccount", "bizdomain-operator", NAMESPACE),
        ("clusterrole", "bizdomain.io:operator", None),
        ("clusterrolebinding", "bizdomain.io:operator", None),
        ("role", "bizdomain.io:operator-token", NAMESPACE),
        ("rolebinding", "bizdomain.io:operator-token", NAMESPACE),
        ("validatingadmissionpolicy", "bizdomain-operator-boundary", None),
        ("validatingadmissionpolicybinding", "bizdomain-operator-boundary", None),
    ):
        assert platform.get(kind, name, namespace, cluster="dev") is None, f"{kind} {name} left behind"
    for kind, name in (("clusterrole", "bizdomain.io:viewer"), ("crd", "workspaces.bizdomain.io")):
        assert platform.get(kind, name, cluster="dev") is not None, f"{kind} {name} removed"
    join(platform, "dev")
    wait_until(lambda: member_ready(platform, "dev").get("status") == "True", timeout=60, what="dev Ready again")
