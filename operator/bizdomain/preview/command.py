"""``bizdomain plan`` (and ``kubectl bizdomain plan``): what a change would do on every member.

Wired into :mod:`bizdomain.cli` by :func:`add_parser`. The steps: load the files
(:mod:`.load`), build the host before and after the change (:mod:`.world`, from the live host
or base files), take each member's state (offline: converged on the base, :mod:`.state`; live:
read with the operator's credentials and view, :mod:`.live`), run the operator's own planner
and decide step on it (:mod:`.changes`), and print (:mod:`.render`, or ``-o json``). Nothing is
ever written: the host and members only see GETs.

Exit codes: 0 success; 1 error (bad files, host or a member unreadable); with
``--detailed-exitcode``, 2 when there are changes (an error still gives 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.members import CredentialsError, Kube, KubeError, MemberClients, kube_from_kubeconfig
from bizdomain.plan import TenantMemo, World, binding_clusters, domain_for_namespace
from bizdomain.preview.changes import decide_member, result, wanted_bodies
from bizdomain.preview.host import host_issues, read_host
from bizdomain.preview.live import PlanClients, Unreadable, member_client, read_bodies, read_member
from bizdomain.preview.load import Loaded, LoadError, load
from bizdomain.preview.model import ClusterResult, HostIssue, PlanResult
from bizdomain.preview.render import clean, render
from bizdomain.preview.state import converged
from bizdomain.preview.world import HostObjects, changed, target, world

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def add_parser(sub: Any) -> None:
    """The ``plan`` subcommand's flags (``sub``: the CLI's subparsers)."""
    p = sub.add_parser(
        "plan",
        help="show what a change to domains and bindings would do on every member cluster",
        description="Show, per member cluster, every object the operator would create, update, prune or release "
        "if the files were applied to the host, and every problem it would report. Reads only.",
    )
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        metavar="PATH",
        help="file or directory of host objects, like kubectl apply -f (repeatable; - for stdin)",
    )
    p.add_argument(
        "--base",
        action="append",
        default=[],
        metavar="PATH",
        help="offline: files of the revision the change starts from (e.g. the target branch)",
    )
    p.add_argument(
        "--host",
        action="store_true",
        help="read the live host: the change starts from its domains, bindings and MemberClusters",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="also read every member (with the operator's credentials, read-only): drift included",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="the files hold every BusinessDomain and EnvironmentBinding: the others are deleted "
        "(as Argo CD's prune does)",
    )
    p.add_argument(
        "--domain",
        action="append",
        default=[],
        metavar="NAME",
        help="only these domains (repeatable): their tenants, changes and problems, on their clusters",
    )
    p.add_argument("--kubeconfig", help="kubeconfig of the host (default: $KUBECONFIG, else ~/.kube/config)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing changes, 1 on error, 2 when there are changes",
    )


def _kubeconfig(args: argparse.Namespace) -> str:
    if args.kubeconfig:
        return str(args.kubeconfig)
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return first or str(Path.home() / ".kube" / "config")


def _fail(message: str) -> int:
    # Names and paths in an error come from the files: shown escaped, like everything the plan prints.
    print(f"bizdomain plan: {clean(message)}", file=sys.stderr)
    return EXIT_ERROR


async def _host_kube(args: argparse.Namespace, settings: Settings) -> Kube:
    path = _kubeconfig(args)
    try:
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(f"cannot read the host kubeconfig {path} ({type(exc).__name__})") from None
    return await kube_from_kubeconfig(text, "host", settings)


async def _plan(args: argparse.Namespace, settings: Settings, loaded: Loaded, host: Kube | None) -> PlanResult:
    if host is not None:
        base = await read_host(host, settings)
        label = "the live members" if args.live else "the live host (members not read)"
    elif args.base:
        base = HostObjects.of(load(args.base).objects)
        label = "the base files"
    else:
        base, label = HostObjects(), "nothing (every object is new)"
    before = world(base, settings)
    changed_host = target(base, loaded.objects, prune=args.prune, keep_members=not args.base)
    after = world(changed_host, settings)
    plan = PlanResult(mode="live" if args.live else "offline", base=label, host=host_issues(after, settings))
    plan.skipped = dict(loaded.skipped)
    scope = frozenset(args.domain) if args.domain else None
    clusters = sorted({*after.members, *before.members})
    if scope is not None:
        plan.host = [h for h in plan.host if _issue_domain(h, settings) in scope]
        plan.outside = [k for k in changed(base, changed_host) if _key_domain(k, settings) not in scope]
        clusters = sorted(in_scope(before, scope, settings) | in_scope(after, scope, settings))
    clients = PlanClients(host, settings) if args.live and host is not None else None
    try:
        planned = [m for n in clusters if (m := after.members.get(n)) is not None and not m.deleting and m.spec]
        # Members are read side by side (live); one that hangs holds up only its own result.
        # One memo per world: a tenant bound to several clusters is planned once, as the runtime does.
        memos = (TenantMemo(), TenantMemo())
        found = await asyncio.gather(
            *(_cluster(m, before, after, settings, clients=clients, memos=memos) for m in planned)
        )
        results = {r.cluster: r for r in found}
        for name in clusters:
            member = after.members.get(name)
            if member is None or member.deleting:
                removed = before.members[name]
                environments = list(removed.spec.environments) if removed.spec else []
                plan.clusters.append(ClusterResult(name, environments, status="removed"))
            elif name in results:  # a member whose spec does not parse is a host problem: not acted on
                result_ = results[name]
                if scope is not None:
                    result_.tenants = [t for t in result_.tenants if t.domain in scope]
                    result_.changes = [c for c in result_.changes if c.domain in scope]
                plan.clusters.append(result_)
    finally:
        if clients is not None:
            await clients.close()
    return plan


async def _cluster(
    member: Any,
    before: Any,
    after: Any,
    settings: Settings,
    *,
    clients: MemberClients | None,
    memos: tuple[TenantMemo, TenantMemo],
) -> ClusterResult:
    if clients is None:
        state = converged(before.members.get(member.name), before, settings, memos[0])
        return result(member, decide_member(member, after, state, settings, memos[1]), state, settings)
    environments = list(member.spec.environments)
    try:
        kube = await member_client(clients, member, settings)  # once: a second ask could renew its token
        state = await read_member(kube, member, after, settings, memos[1])
        decision = decide_member(member, after, state, settings, memos[1])
        state.bodies.update(await read_bodies(kube, member, wanted_bodies(decision, state), settings))
    except Unreadable as exc:
        return ClusterResult(member.name, environments, status=exc.status, error=exc.issue)
    return result(member, decision, state, settings)


def in_scope(world: World, domains: frozenset[str], settings: Settings) -> set[str]:
    """The members the bindings of ``domains`` select in ``world``."""
    out: set[str] = set()
    for binding in world.bindings.values():
        if domain_for_namespace(binding.namespace, settings) in domains:
            out.update(binding_clusters(binding, world))
    return out


def _key_domain(key: tuple[str, str, str], settings: Settings) -> str | None:
    """The domain a host object belongs to (None: a MemberCluster, everyone's)."""
    if key[0] == names.KIND_BINDING:
        return domain_for_namespace(key[1], settings)
    return key[2] if key[0] == names.KIND_DOMAIN else None


def _issue_domain(issue: HostIssue, settings: Settings) -> str | None:
    if issue.kind == names.KIND_BINDING:
        return domain_for_namespace(issue.namespace or "", settings)
    return issue.name if issue.kind == names.KIND_DOMAIN else None


def _color(args: argparse.Namespace) -> bool:
    if args.color == "auto":
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return bool(args.color == "always")


async def run(args: argparse.Namespace) -> int:
    """``bizdomain plan``: print the plan, return the exit code."""
    if args.prune and not args.filename:
        return _fail("--prune needs -f: with no files it would delete every domain")
    if args.base and (args.host or args.live):
        return _fail("--base compares with files; --host and --live compare with the live host: pick one")
    if not (args.filename or args.live):
        return _fail("nothing to plan: give files (-f), or --live to compare the host with its members")
    settings = Settings.from_env()
    try:
        loaded = load(args.filename)
    except LoadError as exc:
        return _fail(str(exc))
    host: Kube | None = None
    try:
        if args.host or args.live:
            host = await _host_kube(args, settings)
        plan = await _plan(args, settings, loaded, host)
    except LoadError as exc:
        return _fail(str(exc))
    except (CredentialsError, KubeError) as exc:
        return _fail(f"cannot read the host: {exc}")
    finally:
        if host is not None:
            await host.close()
    if args.output == "json":
        sys.stdout.write(json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(plan, color=_color(args)))
    if plan.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and plan.changed else EXIT_OK


__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "add_parser", "run"]
