"""The command line of the local control plane: `python -m localcluster up|down|status`.

Called by `make cluster-up` / `make cluster-down` (and by hand):

    python -m localcluster up host dev prod   # start what is missing, reuse what runs
    python -m localcluster status
    python -m localcluster down               # stop everything it started, remove .cluster/
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from localcluster import processes
from localcluster.errors import ControlPlaneError
from localcluster.plane import ControlPlane
from localcluster.readiness import apiserver_ready, etcd_healthy

__all__ = ["main", "print_status"]


def print_status(plane: ControlPlane) -> bool:
    """Print every process with its health; True if everything recorded is healthy."""
    state = plane.load_state()
    if state is None:
        plane.say(f"no control plane ({plane.state_file} does not exist)")
        return False
    if state.owner == "sessions":
        plane.say(f"started by test sessions {state.sessions}; the last one to end stops it")
    ok = state.etcd.running() and etcd_healthy(state)
    rss = f"RSS {processes.rss_mib(state.etcd.pid)} MiB" if ok else "DOWN"
    plane.say(f"etcd     {state.etcd_url}  pid {state.etcd.pid}  {rss}")
    for name, c in state.clusters.items():
        api = c.apiserver.running() and apiserver_ready(c)
        cm = c.controller_manager.running()
        ok = ok and api and cm
        api_rss = f"ready, RSS {processes.rss_mib(c.apiserver.pid)} MiB" if api else "DOWN"
        cm_rss = f"running, RSS {processes.rss_mib(c.controller_manager.pid)} MiB" if cm else "DOWN"
        plane.say(f"{name:<8} {c.url}  {c.kubeconfig}")
        plane.say(f"         kube-apiserver pid {c.apiserver.pid} {api_rss}")
        plane.say(f"         kube-controller-manager pid {c.controller_manager.pid} {cm_rss}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcluster", description="A real multi-cluster Kubernetes control plane on loopback."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start etcd and the named clusters (reuse what runs)")
    up_parser.add_argument("names", nargs="+", metavar="cluster")
    sub.add_parser("down", help="stop every process `up` started and remove .cluster/")
    sub.add_parser("status", help="show the recorded processes and their health")
    args = parser.parse_args(argv)
    plane = ControlPlane()
    try:
        if args.command == "up":
            plane.up(args.names)
        elif args.command == "down":
            plane.down()
        else:
            return 0 if print_status(plane) else 1
    except ControlPlaneError as e:
        print(f"localcluster: {e}", file=sys.stderr)
        return 1
    return 0
