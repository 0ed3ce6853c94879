"""Fixtures of the deployer-policy tests: a member with the platform ClusterRoles and the deployer
admission policy, as `bizdomain join` and the operator leave it, enforced before any test runs.

`member` (module) applies both to `dev` as its admin and probes with a dry-run request until the
policy refuses (policies take effect a moment after creation: polled, never slept on); the policy
is removed again when the module ends. `held` is one tenant namespace the refusals share: a
refused request changes nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from bizdomain import names
from bizdomain.plan.roles import DEPLOYER_REFUSAL, deployer_admission_policy, desired_platform_roles
from integration.deployer.tenant import DEVELOPER, PIPELINE, act, tenant
from support import Cleanup, ClusterHandle, wait_until


@pytest.fixture(scope="module")
def member(dev: ClusterHandle) -> Iterator[ClusterHandle]:
    """`dev` with the platform ClusterRoles and the deployer policy, enforced (probed, not slept on)."""
    roles = [role.body for role in desired_platform_roles()]
    dev.kubectl(
        "apply", "--server-side", "--field-manager=bizdomain", "--force-conflicts", "-f", "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": roles}),
    )  # fmt: skip
    registry = Cleanup()
    registry.add(dev, "validatingadmissionpolicy", names.DEPLOYER_POLICY)
    registry.add(dev, "validatingadmissionpolicybinding", names.DEPLOYER_POLICY)
    dev.kubectl(
        "apply", "--server-side", "--field-manager=bizdomain-join", "--force-conflicts", "-f", "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": deployer_admission_policy()}),
    )  # fmt: skip
    probe = tenant(dev, registry, f"deployer-policy-probe-{secrets.token_hex(3)}")
    wait_until(
        lambda: "yes" in act(dev, DEVELOPER, "auth", "can-i", "patch", "deployments.apps", "-n", probe)[1],
        what="the clusterrole-aggregation controller to fill bizdomain.io:developer",
    )
    restart = {"spec": {"template": {"metadata": {"annotations": {"probe": "1"}}}}}
    wait_until(
        lambda: DEPLOYER_REFUSAL in act(dev, PIPELINE, "patch", "deployment/web", "-n", probe, "--dry-run=server",
                                        "-p", json.dumps(restart))[1],
        what="the deployer policy to be enforced",
    )  # fmt: skip
    try:
        yield dev
    finally:
        registry.run()


@pytest.fixture(scope="module")
def held(member: ClusterHandle) -> Iterator[str]:
    """One tenant namespace for the refusals: a refused request changes nothing, so they can share it."""
    registry = Cleanup()
    try:
        yield tenant(member, registry, f"deployer-policy-held-{secrets.token_hex(3)}")
    finally:
        registry.run()
