"""The benchmark's own local control plane and clients to each cluster.

:class:`BenchPlane` is ``localcluster.ControlPlane`` (hack/localcluster) in a state directory of
the benchmark's own (never the checkout's ``.cluster/``, which tests and `make cluster-up` use),
so a run can bring it up and down freely. The platform is installed with the harness the tests
use too (``localcluster.harness.install_platform``); :func:`floor_identity` gives a floor
member the same least-privilege identity `bizdomain join` creates, without registering it on
the host. Called by :mod:`bench.run` and :mod:`bench.phases`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bizdomain import names
from bizdomain.cli import apply_objects, member_kubeconfig
from bizdomain.config import Settings
from bizdomain.members import KINDS, Kube, KubeError, kube_from_kubeconfig
from bizdomain.plan.identity import SERVICE_ACCOUNT, member_objects, platform_objects
from bizdomain.sync.engine import MANAGED, TENANT_KINDS
from localcluster import Cluster, ControlPlane, State, kubectl
from localcluster.harness import NAMESPACE

ROOT = Path(__file__).resolve().parents[1]
BENCH_MANAGER = "bizdomain-bench"
Key = tuple[str, str | None, str]


class BenchPlane:
    """etcd plus, per cluster, a kube-apiserver and kube-controller-manager on 127.0.0.1."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.plane = ControlPlane(state_dir=state_dir, out=sys.stderr)
        self._state: State | None = None

    @property
    def state(self) -> State:
        if self._state is None:
            raise RuntimeError(f"the benchmark's control plane in {self.state_dir} is not up")
        return self._state

    def up(self, clusters: Sequence[str]) -> None:
        self._state = self.plane.up(list(clusters))

    def down(self) -> None:
        self.plane.down()
        self._state = None

    def cluster(self, name: str) -> Cluster:
        return self.state.clusters[name]

    def kubeconfig(self, name: str) -> Path:
        return Path(self.cluster(name).kubeconfig)

    def kubectl(self, name: str, *args: str, input: str | None = None, check: bool = True) -> str:
        """The pinned kubectl against ``name`` as admin; stdout."""
        return kubectl(self.state, name, *args, input=input, check=check, timeout=300).stdout

    async def admin_kube(self, name: str, concurrency: int = 16) -> Kube:
        """A client to ``name`` as admin (client certificate), ``concurrency`` requests in flight."""
        text = self.kubeconfig(name).read_text()
        settings = Settings(member_concurrency=concurrency, request_timeout_seconds=120)
        return await kube_from_kubeconfig(text, name, settings, key_dir=str(self.state_dir))

    def metrics(self, name: str) -> str:
        """The API server's own ``/metrics`` (Prometheus text), read as admin."""
        cluster = self.cluster(name)
        context = ssl.create_default_context(cafile=str(cluster.ca_file))
        cert, key = cluster.admin_cert
        context.load_cert_chain(str(cert), str(key))
        handlers = (urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        with opener.open(f"{cluster.url}/metrics", timeout=30) as response:
            return str(response.read().decode())


async def apply(kube: Kube, body: dict[str, Any], manager: str = BENCH_MANAGER) -> dict[str, Any]:
    """Server-side apply of ``body`` under ``manager`` (a user's, not the operator's); tried again,
    as GitOps would, while a new domain namespace's binding quota is not counted yet (the API
    server refuses new bindings there until Kubernetes' quota controller has counted it)."""
    meta = body["metadata"]
    deadline = time.monotonic() + 60
    while True:
        try:
            return await kube.request(
                "PATCH",
                KINDS[body["kind"]].item(meta["name"], meta.get("namespace")),
                query={"fieldManager": manager, "force": "true"},
                body=body,
                content_type="application/apply-patch+yaml",
            )
        except KubeError as exc:
            if exc.status != 403 or "status unknown for quota" not in exc.message or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def floor_identity(plane: BenchPlane, name: str, concurrency: int) -> Kube:
    """On floor member ``name``: what `bizdomain join` creates (the identity, its bounds and the
    platform objects), and a client that uses its token, as the operator's client to a member does."""
    admin = await plane.admin_kube(name)
    try:
        await apply_objects(admin, member_objects(NAMESPACE, []), BENCH_MANAGER)
        await apply_objects(admin, platform_objects(), names.FIELD_MANAGER)  # as join does
        token = await admin.request(
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{SERVICE_ACCOUNT}/token",
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 86400},
            },
        )
    finally:
        await admin.close()
    config = yaml.safe_load(plane.kubeconfig(name).read_text())
    ca = config["clusters"][0]["cluster"]["certificate-authority-data"]
    text = member_kubeconfig(name, plane.cluster(name).url, ca, token["status"]["token"])
    settings = Settings(member_concurrency=concurrency)
    return await kube_from_kubeconfig(text, name, settings, key_dir=str(plane.state_dir))


async def managed_keys(kube: Kube) -> set[Key]:
    """Every object bizdomain manages on a member (what the engine lists, plus its CRD)."""
    keys: set[Key] = set()
    selectors = {
        "Namespace": MANAGED,
        "ClusterRole": f"{MANAGED},{names.LABEL_COMPONENT}={names.COMPONENT_PLATFORM}",
    }
    for kind in ("Namespace", "ClusterRole", *TENANT_KINDS):
        for item in await kube.list(kind, label_selector=selectors.get(kind, MANAGED)):
            meta = item["metadata"]
            keys.add((kind, meta.get("namespace"), meta["name"]))
    crd = f"{names.PLURAL_WORKSPACE}.{names.GROUP}"
    if await kube.get("CustomResourceDefinition", crd) is not None:
        keys.add(("CustomResourceDefinition", None, crd))
    return keys


async def table(kube: Kube, path: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A list as ``kubectl get`` sees it (server-side Table): one dict per row, by column name."""
    response = await kube.send(
        "GET",
        path,
        query={"includeObject": "None", **(query or {})},
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
        limits=aiohttp.ClientTimeout(total=kube.timeout),
    )
    async with response:
        data = json.loads(await response.read())
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {data.get('message')}")
    columns = [c["name"] for c in data.get("columnDefinitions", [])]
    return [dict(zip(columns, row["cells"], strict=True)) for row in data.get("rows", [])]
