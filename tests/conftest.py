"""Fixtures shared by every suite: the local control plane, per-cluster kubectl and API clients,
unique names per test, and cleanup of what a test created.

`control_plane` (session) reuses a control plane left running by `make cluster-up` and leaves it
running; otherwise it starts one (host, dev, prod and any names in $MEMBERS) with the
`localcluster` package (hack/localcluster), and the last test session attached to it stops it
(sessions running at the same time share it). Tests that use it are marked `@pytest.mark.cluster`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from kubernetes import client

from localcluster import ControlPlane
from localcluster.harness import OperatorProcess, install_platform
from support import Cleanup, ClusterHandle, ControlPlaneHandle, wait_until
from support.platform import MEMBERS, MakeDomain, Platform, binding_doc, domain_doc

DEFAULT_CLUSTERS = ("host", "dev", "prod")


def _cluster_names() -> list[str]:
    return list(dict.fromkeys([*DEFAULT_CLUSTERS, *os.environ.get("MEMBERS", "").split()]))


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlaneHandle]:
    """The local control plane, shared: one from `make cluster-up` is reused and left running;
    otherwise this session starts it, and the last session using it stops it at its end."""
    plane = ControlPlane()
    state, started_here = plane.attach(_cluster_names(), os.getpid())
    try:
        yield ControlPlaneHandle.from_state(plane, state, started_here)
    finally:
        plane.detach(os.getpid())


@pytest.fixture(scope="session")
def host(control_plane: ControlPlaneHandle) -> ClusterHandle:
    return control_plane["host"]


@pytest.fixture(scope="session")
def dev(control_plane: ControlPlaneHandle) -> ClusterHandle:
    return control_plane["dev"]


@pytest.fixture(scope="session")
def prod(control_plane: ControlPlaneHandle) -> ClusterHandle:
    return control_plane["prod"]


Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlaneHandle) -> Kubectl:
    """kubectl(cluster, *args, as_user=None, as_groups=(), input=None, check=True) -> CompletedProcess."""

    def run(
        cluster: str | ClusterHandle,
        *args: str,
        as_user: str | None = None,
        as_groups: Sequence[str] = (),
        input: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        handle = control_plane[cluster] if isinstance(cluster, str) else cluster
        return handle.kubectl(*args, as_user=as_user, as_groups=as_groups, input=input, check=check)

    return run


@pytest.fixture
def api_client(
    control_plane: ControlPlaneHandle,
) -> Iterator[Callable[[str | ClusterHandle], client.ApiClient]]:
    """api_client(cluster) -> a new admin `kubernetes.client.ApiClient`, closed after the test."""
    opened: list[client.ApiClient] = []

    def make(cluster: str | ClusterHandle) -> client.ApiClient:
        handle = control_plane[cluster] if isinstance(cluster, str) else cluster
        opened.append(api := handle.api_client())
        return api

    yield make
    for api in opened:
        api.close()


@pytest.fixture
def unique_name() -> str:
    """A short DNS-1123 label of this test's own, e.g. `t-3f9a1c`; derive more with suffixes."""
    return f"t-{secrets.token_hex(3)}"


@pytest.fixture
def cleanup(control_plane: ControlPlaneHandle) -> Iterator[Cleanup]:
    """Namespaces and objects the test creates through it are deleted when the test ends."""
    registry = Cleanup()
    yield registry
    registry.run()


@pytest.fixture(scope="session")
def platform(control_plane: ControlPlaneHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    install_platform(control_plane.state, {member: [member] for member in MEMBERS})
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    operator = OperatorProcess(
        kubeconfig=control_plane["host"].kubeconfig,
        log_path=log_path,
        env={
            "BIZDOMAIN_RESYNC_SECONDS": "5",
            # Members' views relisted every 5 s, so the fault tests see a lost right (a failing
            # list) within seconds; in production watches carry the view for 10 minutes.
            "BIZDOMAIN_RELIST_SECONDS": "5",
            "BIZDOMAIN_DEBOUNCE_SECONDS": "0.1",
            "BIZDOMAIN_DELETION_GRACE_SECONDS": "30",
        },
    )
    operator.start()
    plat = Platform(control_plane, operator)
    try:
        for name in MEMBERS:

            def ready(name: str = name) -> bool:
                return plat.condition(plat.get("membercluster", name)).get("status") == "True"

            wait_until(ready, timeout=60, what=f"member {name} Ready")
        yield plat
    finally:
        operator.stop()
        print(f"\noperator log: {log_path}")
        if os.environ.get("CI"):
            tail = operator.log().splitlines()[-80:]
            print("\n".join(tail))


@pytest.fixture
def make_domain(platform: Platform) -> Iterator[MakeDomain]:
    """make_domain(name, bindings=("dev","prod"), **spec) -> seconds from apply to Ready; deleted after."""
    created: list[str] = []

    def make(
        name: str,
        envs: tuple[str, ...] = ("dev", "prod"),
        bindings: dict[str, dict[str, Any]] | None = None,
        **spec: Any,
    ) -> float:
        start = time.monotonic()
        platform.apply(domain_doc(name, **spec))
        created.append(name)
        platform.wait_host_namespace(name)
        docs = [binding_doc(name, env, **((bindings or {}).get(env, {}))) for env in envs]
        if docs:
            platform.apply(*docs)
        for env in envs:
            platform.wait_binding(name, env)
        platform.wait_domain_bound(name, envs)
        return time.monotonic() - start

    yield make
    for name in created:
        platform.delete("businessdomain", name, wait=False)
    for name in created:

        def gone(name: str = name) -> bool:
            return platform.get("businessdomain", name) is None

        wait_until(gone, timeout=90, what=f"domain {name} deleted")
        for member in MEMBERS:  # Retain leaves released namespaces behind: the test removes its own
            platform.member(member).kubectl("delete", "ns", "-l", f"bizdomain.io/domain={name}", "--wait=false")
