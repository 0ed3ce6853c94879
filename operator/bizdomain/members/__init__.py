"""Clients to the host and member clusters: JSON REST over aiohttp, one per cluster."""

from bizdomain.members.clients import MemberClients, kube_from_kubeconfig
from bizdomain.members.kinds import KINDS
from bizdomain.members.kubeconfig import Credentials, CredentialsError, host_credentials
from bizdomain.members.rest import Kube, KubeError, open_session

__all__ = [
    "KINDS",
    "Credentials",
    "CredentialsError",
    "Kube",
    "KubeError",
    "MemberClients",
    "host_credentials",
    "kube_from_kubeconfig",
    "open_session",
]
