"""A member's credentials go bad: its kubeconfig Secret is overwritten with garbage, or its token
is revoked and then rotated by re-running `bizdomain join`.

Pass criteria: the MemberCluster says Ready False with reason CredentialsInvalid and a message
that names the Secret and holds no credential; a Warning Event on the MemberCluster says so; the
binding's entry for the member fails with the same reason. Once the Secret is good again
(restored, or rotated by join) the member is Ready and a change converges there, with the same
operator process (no restart), and no token ever appears in the operator's log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
import yaml

from localcluster.harness import join_member
from support import wait_until
from support.platform import NAMESPACE, MakeDomain, Platform, domain_doc

from .conftest import Faults
from .probes import (
    JSON,
    Stopwatch,
    binding,
    cluster_entry,
    domain_converged,
    member_events,
    member_ready,
    operator_pid,
    quotas,
    report,
)

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

SECRET = "member-dev"
SECRET_REF = f"{NAMESPACE}/{SECRET}"
GARBAGE = "clusters: [this is not: a kubeconfig"


def kubeconfig_data(platform: Platform) -> str:
    """The Secret's kubeconfig, base64 as stored."""
    return str(platform.require("secret", SECRET, NAMESPACE)["data"]["kubeconfig"])


def token_in(data: str) -> str:
    return str(yaml.safe_load(base64.b64decode(data))["users"][0]["user"]["token"])


def set_kubeconfig(platform: Platform, data: str) -> None:
    patch = json.dumps({"data": {"kubeconfig": data}})
    platform.host.kubectl("patch", "secret", SECRET, "-n", NAMESPACE, "--type=merge", "-p", patch)


def join(platform: Platform, member: str) -> None:
    """`bizdomain join` again, as a platform engineer rotates a member's token."""
    join_member(platform.host.kubeconfig, platform.member(member).kubeconfig, member, [member], namespace=NAMESPACE)


def event_uids(platform: Platform) -> set[str]:
    return {e["metadata"]["uid"] for e in member_events(platform, "dev")}


def break_credentials(platform: Platform, faults: Faults, how: str) -> tuple[list[str], Callable[[], None]]:
    """Break dev's credentials; return what must never be shown, and how to fix it."""
    old = kubeconfig_data(platform)
    hidden = [token_in(old), old]
    if how == "garbage":
        faults.undo("restore the kubeconfig Secret", lambda: set_kubeconfig(platform, old))
        set_kubeconfig(platform, base64.b64encode(GARBAGE.encode()).decode())
        return [*hidden, GARBAGE], lambda: set_kubeconfig(platform, old)
    faults.undo("join dev again", lambda: join(platform, "dev"))
    # Deleting the ServiceAccount invalidates every token minted for it; join makes a new one.
    platform.member("dev").kubectl("delete", "serviceaccount", "bizdomain-operator", "-n", NAMESPACE)
    return hidden, lambda: join(platform, "dev")


def wait_reported(platform: Platform, domain: str) -> tuple[JSON, JSON]:
    """The MemberCluster's Ready condition and the binding's dev entry, once both say CredentialsInvalid."""
    wait_until(
        lambda: member_ready(platform, "dev").get("reason") == "CredentialsInvalid",
        timeout=30,
        interval=0.2,
        what="MemberCluster dev CredentialsInvalid",
    )
    entry = wait_until(
        lambda: (
            (e := cluster_entry(binding(platform, domain, "dev"), "dev")).get("reason") == "CredentialsInvalid" and e
        ),
        timeout=30,
        what="the binding's dev entry CredentialsInvalid",
    )
    return member_ready(platform, "dev"), entry


def assert_hidden(texts: list[str], hidden: list[str]) -> None:
    for text in texts:
        for secret in hidden:
            assert secret not in text, "a credential leaked into status or an Event"


HOW = ["garbage", "revoked"]


@pytest.mark.parametrize("how", HOW)
def test_bad_credentials_are_reported_and_recover(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str, how: str
) -> None:
    make_domain(unique_name, envs=("dev",))
    pid = operator_pid(platform)

    broken = Stopwatch()
    hidden, fix = break_credentials(platform, faults, how)
    cond, entry = wait_reported(platform, unique_name)
    reported = broken()
    assert cond["status"] == "False"
    assert entry["ready"] is False
    assert_hidden([cond["message"], entry.get("message", "")], hidden)

    fix()
    fixed = Stopwatch()
    wait_until(lambda: member_ready(platform, "dev").get("status") == "True", timeout=30, what="dev Ready again")
    platform.apply(domain_doc(unique_name, quota={"requests.cpu": "4", "pods": "17"}))
    wait_until(
        lambda: quotas(platform.member("dev"), unique_name).get(unique_name, {}).get("pods") == "17",
        timeout=30,
        interval=0.25,
        what="a change made after the fix reaches dev",
    )
    wait_until(lambda: domain_converged(platform, unique_name), timeout=30, what="the domain Ready")
    assert operator_pid(platform) == pid, "the operator was restarted"
    now = kubeconfig_data(platform)
    if how == "revoked":
        assert token_in(now) not in hidden, "join did not mint a new token"
    log = platform.operator.log()
    for token in (*hidden[:1], token_in(now)):
        assert token not in log, "a member token appears in the operator's log"
    report(f"credentials_{how}", reported_s=reported, recovered_and_reconciled_s=fixed(), message=cond["message"])


@pytest.mark.parametrize("how", HOW)
def test_bad_credentials_name_the_secret_and_warn(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str, how: str
) -> None:
    make_domain(unique_name, envs=("dev",))
    before = event_uids(platform)
    hidden, _ = break_credentials(platform, faults, how)
    cond, entry = wait_reported(platform, unique_name)
    assert SECRET_REF in cond["message"], f"the condition does not name the Secret: {cond['message']!r}"
    assert SECRET_REF in entry["message"], f"the binding entry does not name the Secret: {entry['message']!r}"
    event = wait_until(
        lambda: next(
            (
                e
                for e in member_events(platform, "dev")
                if e["metadata"]["uid"] not in before and e["type"] == "Warning" and e["reason"] == "CredentialsInvalid"
            ),
            None,
        ),
        timeout=15,
        what="a Warning Event CredentialsInvalid on MemberCluster dev",
    )
    assert SECRET_REF in event["message"]
    assert_hidden([cond["message"], entry["message"], event["message"]], hidden)
