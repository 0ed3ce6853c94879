"""The operator's client to its own (host) cluster: in-cluster credentials, else KUBECONFIG."""

from __future__ import annotations

from bizdomain.config import Settings
from bizdomain.members.kubeconfig import host_credentials
from bizdomain.members.rest import Kube


async def host_kube(settings: Settings) -> Kube:
    return Kube(
        await host_credentials(),
        "host",
        timeout=settings.request_timeout_seconds,
        concurrency=settings.member_concurrency,
    )
