"""The operator's client to its own (host) cluster: in-cluster credentials, else KUBECONFIG."""

from __future__ import annotations

import os

from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

from bizdomain.config import Settings
from bizdomain.members.rest import Kube


async def host_kube(settings: Settings) -> Kube:
    configuration = Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        await kube_config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = settings.member_concurrency
    return Kube(
        ApiClient(configuration),
        "host",
        timeout=settings.request_timeout_seconds,
        concurrency=settings.member_concurrency,
    )
