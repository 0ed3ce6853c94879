"""``bizdomain join`` / ``bizdomain unjoin``: onboard a member cluster (also ``kubectl bizdomain``).

join, with an admin kubeconfig of the member:
  1. on the member: a namespace, a ServiceAccount and the least-privilege ClusterRole the
     operator needs there (``bind``/``escalate`` only on the roles it may grant, so the
     member's own RBAC refuses a binding to cluster-admin), bound to the ServiceAccount;
  2. a token for it from the TokenRequest API, and a kubeconfig around that token;
  3. on the host: the kubeconfig Secret in the operator's namespace and the MemberCluster.
unjoin reverses all three. Re-running join rotates the token.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from pathlib import Path
from typing import Any

import yaml

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.members import Kube, KubeError, kube_from_kubeconfig

OPERATOR_ROLE = names.OPERATOR_ROLE
SERVICE_ACCOUNT = "bizdomain-operator"
CRUD = ["get", "list", "watch", "create", "update", "patch", "delete"]


def member_rules(grantable: list[str]) -> list[dict[str, Any]]:
    """Exactly what the operator does on a member, and nothing more (no Secrets, no pods)."""
    ours = [f"{names.ROLE_PREFIX}{r}" for r in names.BUILTIN_ROLES]
    return [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": CRUD},
        {"apiGroups": [""], "resources": ["resourcequotas", "limitranges"], "verbs": CRUD},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": CRUD},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": CRUD},
        {"apiGroups": [names.GROUP], "resources": [names.PLURAL_WORKSPACE], "verbs": CRUD},
        {"apiGroups": [names.GROUP], "resources": [f"{names.PLURAL_WORKSPACE}/status"], "verbs": ["get", "patch"]},
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["list", "watch"],
        },
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "resourceNames": ours,
            "verbs": ["get", "create", "update", "patch", "delete", "escalate"],
        },
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "resourceNames": sorted(set(ours) | set(grantable)),
            "verbs": ["bind"],
        },
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "resourceNames": [f"{names.PLURAL_WORKSPACE}.{names.GROUP}"],
            "verbs": ["get", "create", "update", "patch"],
        },
    ]


def _obj(api_version: str, kind: str, name: str, namespace: str | None = None, **content: Any) -> dict[str, Any]:
    labels = {names.LABEL_MANAGED_BY: "bizdomain-join", names.LABEL_COMPONENT: names.COMPONENT_IDENTITY}
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **content}


def member_objects(namespace: str, grantable: list[str]) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        _obj("v1", "Namespace", namespace),
        _obj("v1", "ServiceAccount", SERVICE_ACCOUNT, namespace),
        _obj(rbac, "ClusterRole", OPERATOR_ROLE, rules=member_rules(grantable)),
        _obj(
            rbac,
            "ClusterRoleBinding",
            OPERATOR_ROLE,
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPERATOR_ROLE},
            subjects=[{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
        ),
    ]


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


async def _apply_all(kube: Kube, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        await kube.request(
            "PATCH",
            _path(obj),
            query={"fieldManager": "bizdomain-join", "force": "true"},
            body=obj,
            content_type="application/apply-patch+yaml",
        )


def _path(obj: dict[str, Any]) -> str:
    kinds = {
        "Namespace": "/api/v1/namespaces",
        "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
        "Secret": "/api/v1/namespaces/{ns}/secrets",
        "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        names.KIND_MEMBER: f"/apis/{names.API_VERSION}/{names.PLURAL_MEMBER}",
    }
    meta = obj["metadata"]
    return str(kinds[obj["kind"]].format(ns=meta.get("namespace", ""))) + "/" + str(meta["name"])


async def join(args: argparse.Namespace) -> int:
    member = await _kube(args.member_kubeconfig, args.name)
    host = await _kube(args.host_kubeconfig, "host")
    try:
        await _apply_all(member, member_objects(args.member_namespace, args.allow_role))
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
        secret = _obj(
            "v1",
            "Secret",
            secret_name,
            args.namespace,
            type="Opaque",
            data={"kubeconfig": base64.b64encode(kubeconfig.encode()).decode()},
        )
        labels = {f"{names.GROUP}/environment": args.environment[0]} if len(args.environment) == 1 else {}
        cluster = _obj(
            names.API_VERSION,
            names.KIND_MEMBER,
            args.name,
            spec={"kubeconfigSecretRef": {"name": secret_name}, "environments": args.environment},
        )
        cluster["metadata"]["labels"].update(labels)
        await _apply_all(host, [_obj("v1", "Namespace", args.namespace), secret, cluster])
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
            try:
                for kind, name, ns in (
                    ("ClusterRoleBinding", OPERATOR_ROLE, None),
                    ("ClusterRole", OPERATOR_ROLE, None),
                    ("ServiceAccount", SERVICE_ACCOUNT, args.member_namespace),
                ):
                    path = _path({"kind": kind, "metadata": {"name": name, "namespace": ns}})
                    try:
                        await member.request("DELETE", path)
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
            p.add_argument("--token-hours", type=float, default=24 * 365, help="lifetime of the member token")
    args = parser.parse_args(argv)
    return asyncio.run(join(args) if args.command == "join" else unjoin(args))


if __name__ == "__main__":
    sys.exit(main())
