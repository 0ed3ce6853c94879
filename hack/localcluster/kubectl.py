"""The pinned kubectl run against one local cluster, as admin or impersonating a user.

`run_kubectl` is what the test fixtures' `ClusterHandle.kubectl`, the benchmark's
`BenchPlane.kubectl` and :mod:`localcluster.harness` all call.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from localcluster.processes import child_env
from localcluster.state import State

__all__ = ["KubectlError", "kubectl", "run_kubectl"]


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def run_kubectl(
    binary: Path,
    kubeconfig: Path,
    cache: Path,
    *args: str,
    as_user: str | None = None,
    as_groups: Sequence[str] = (),
    input: str | None = None,
    check: bool = True,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """`binary --kubeconfig=<kubeconfig> <args>` with its discovery cache in `cache`, no proxy;
    impersonating `as_user` (and `as_groups`) when given. Raises `KubectlError` if `check`."""
    if as_groups and as_user is None:
        raise ValueError("kubectl impersonates groups only together with a user (as_user=...)")
    cmd = [str(binary), f"--kubeconfig={kubeconfig}", *args]
    if as_user is not None:
        cmd.append(f"--as={as_user}")
    cmd += [f"--as-group={group}" for group in as_groups]
    env = child_env()
    env["KUBECACHEDIR"] = str(cache)  # removed with the state directory by `down`
    result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if check and result.returncode != 0:
        raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
    return result


def kubectl(
    state: State, cluster: str, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """kubectl against cluster `cluster` of `state` as its admin."""
    kubeconfig = Path(state.clusters[cluster].kubeconfig)
    return run_kubectl(
        state.kubectl_bin, kubeconfig, state.kubectl_cache, *args, input=input, check=check, timeout=timeout
    )
