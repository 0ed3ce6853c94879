"""``bizdomain join`` / ``bizdomain unjoin``: onboard a member cluster (also ``kubectl bizdomain``);
``bizdomain plan`` lives in :mod:`bizdomain.preview` and is wired in here.

join, with an admin kubeconfig of the member:
  1. on the member: a namespace, a ServiceAccount and the least-privilege ClusterRole the
     operator needs there (no ``escalate``; ``bind`` only on the roles it may grant, so the
     member's own RBAC refuses a binding to cluster-admin), a Role that lets it mint tokens for
     itself only, and the admission policy that holds it to bizdomain's own objects
     (:mod:`bizdomain.plan.boundary`);
  2. the platform objects the operator may no longer write itself: bizdomain's four
     ClusterRoles, the Workspace CRD, and the deployers' admission policy;
  3. a short-lived token for it from the TokenRequest API (the operator renews it), and a
     kubeconfig around that token;
  4. on the host: the kubeconfig Secret in the operator's namespace and the MemberCluster.
unjoin reverses 1 and 4 (the platform objects stay: tenants' RoleBindings name the roles).
Re-running join rotates the token and upgrades what join installs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.members import Kube, KubeError, kube_from_kubeconfig
from bizdomain.plan.identity import SERVICE_ACCOUNT, join_object, member_objects, platform_objects
from bizdomain.plan.roles import desired_workspace_crd
from bizdomain.preview import add_parser as add_plan_parser
from bizdomain.preview import run as run_plan

JOIN_MANAGER = "bizdomain-join"
DEFAULT_TOKEN_HOURS = 24.0
CRD_WAIT_SECONDS = 60.0


async def _kube(path: str, name: str) -> Kube:
    text = await asyncio.to_thread(Path(path).read_text)
    return await kube_from_kubeconfig(text, name, Settings())


def member_kubeconfig(name: str, server: str, ca: str | None, token: str) -> str:
    cluster: dict[str, Any] = {"server": server}
    if ca:
        cluster["certificate-authority-data"] = ca
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": f"bizdomain@{name}", "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"bizdomain@{name}"}}],
            "current-context": name,
        }
    )


class Paths:
    """REST paths of any kind, found by the cluster's discovery (one GET per group/version)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._found: dict[str, dict[str, tuple[str, bool]]] = {}

    async def __call__(self, obj: dict[str, Any]) -> str:
        api_version, kind, meta = obj["apiVersion"], obj["kind"], obj["metadata"]
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if api_version not in self._found:
            listing = await self.kube.request("GET", base)
            self._found[api_version] = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in listing.get("resources") or []
                if "/" not in r["name"]
            }
        if kind not in self._found[api_version]:
            raise KubeError(self.kube.cluster, 404, "NotFound", f"the cluster serves no {kind} in {api_version}")
        plural, namespaced = self._found[api_version][kind]
        where = f"/namespaces/{quote(meta['namespace'])}" if namespaced else ""
        return f"{base}{where}/{plural}/{quote(meta['name'], safe='')}"


async def apply_objects(kube: Kube, objects: list[dict[str, Any]], manager: str = JOIN_MANAGER) -> None:
    """Server-side apply each object, in order, by ``manager`` (any kind the cluster serves)."""
    paths = Paths(kube)
    for obj in objects:
        await kube.request(
            "PATCH",
            await paths(obj),
            query={"fieldManager": manager, "force": "true"},
            body=obj,
            content_type="application/apply-patch+yaml",
        )


async def _established(kube: Kube, crd: str) -> None:
    """Wait until the member serves the Workspace CRD."""
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CRD_WAIT_SECONDS
    while True:
        conditions = ((await kube.request("GET", path)).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        if loop.time() > deadline:
            raise KubeError(kube.cluster, 0, "CRDNotEstablished", f"{crd} is not established")
        await asyncio.sleep(0.2)


async def join(args: argparse.Namespace) -> int:
    member = await _kube(args.member_kubeconfig, args.name)
    host = await _kube(args.host_kubeconfig, "host")
    try:
        await apply_objects(member, member_objects(args.member_namespace, args.allow_role))
        # The platform objects keep the field manager the operator used when it wrote them itself.
        await apply_objects(member, platform_objects(), names.FIELD_MANAGER)
        await _established(member, desired_workspace_crd().name)
        token_request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": int(args.token_hours * 3600)},
        }
        answer = await member.request(
            "POST",
            f"/api/v1/namespaces/{args.member_namespace}/serviceaccounts/{SERVICE_ACCOUNT}/token",
            body=token_request,
        )
        server, pem = member.credentials.server, member.credentials.ca_pem
        ca = base64.b64encode(pem.encode()).decode() if pem else None
        kubeconfig = member_kubeconfig(args.name, server, ca, answer["status"]["token"])
        secret_name = f"member-{args.name}"
        secret = join_object(
            "v1",
            "Secret",
            secret_name,
            args.namespace,
            type="Opaque",
            data={"kubeconfig": base64.b64encode(kubeconfig.encode()).decode()},
        )
        labels = {f"{names.GROUP}/environment": args.environment[0]} if len(args.environment) == 1 else {}
        cluster = join_object(
            names.API_VERSION,
            names.KIND_MEMBER,
            args.name,
            spec={"kubeconfigSecretRef": {"name": secret_name}, "environments": args.environment},
        )
        cluster["metadata"]["labels"].update(labels)
        await apply_objects(host, [join_object("v1", "Namespace", args.namespace), secret, cluster])
    except KubeError as exc:
        print(f"bizdomain join: {exc}", file=sys.stderr)
        return 1
    finally:
        await member.close()
        await host.close()
    print(f"joined member cluster {args.name!r} ({', '.join(args.environment)}) at {server}")
    return 0


async def unjoin(args: argparse.Namespace) -> int:
    host = await _kube(args.host_kubeconfig, "host")
    try:
        await host.delete(names.KIND_MEMBER, args.name)
        await host.delete("Secret", f"member-{args.name}", args.namespace)
        if args.member_kubeconfig:
            member = await _kube(args.member_kubeconfig, args.name)
            paths = Paths(member)
            try:
                # The identity first, its bounds last: it is never unbounded while it exists.
                objects = member_objects(args.member_namespace, [])[1:]
                bounds = [o for o in objects if o["kind"].startswith("ValidatingAdmissionPolicy")]
                identity = [o for o in objects if o not in bounds]
                for obj in [*reversed(identity), *reversed(bounds)]:
                    try:
                        await member.request("DELETE", await paths(obj))
                    except KubeError as exc:
                        if exc.status != 404:
                            raise
            finally:
                await member.close()
    except KubeError as exc:
        print(f"bizdomain unjoin: {exc}", file=sys.stderr)
        return 1
    finally:
        await host.close()
    print(f"unjoined member cluster {args.name!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bizdomain", description="bizdomain platform commands")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("join", "unjoin"):
        p = sub.add_parser(command, help=f"{command} a member cluster")
        p.add_argument("--host-kubeconfig", required=True, help="kubeconfig of the host cluster")
        p.add_argument("--member-kubeconfig", required=command == "join", help="admin kubeconfig of the member")
        p.add_argument("--name", required=True, help="MemberCluster name")
        p.add_argument("--namespace", default="bizdomain-system", help="operator namespace on the host")
        p.add_argument("--member-namespace", default="bizdomain-system", help="namespace of the identity on the member")
        if command == "join":
            p.add_argument("--environment", action="append", required=True, help="environment served (repeatable)")
            p.add_argument("--allow-role", action="append", default=[], help="extra ClusterRole the operator may bind")
            p.add_argument(
                "--token-hours",
                type=float,
                default=DEFAULT_TOKEN_HOURS,
                help="lifetime of the member token (at least 10 minutes); the operator renews it when half is spent",
            )
    add_plan_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "plan":
        return asyncio.run(run_plan(args))
    return asyncio.run(join(args) if args.command == "join" else unjoin(args))


if __name__ == "__main__":
    sys.exit(main())
