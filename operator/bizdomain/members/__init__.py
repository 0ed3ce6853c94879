"""Clients to the host and member clusters: JSON REST over kubernetes_asyncio, one per cluster."""

from bizdomain.members.clients import CredentialsError, MemberClients, kube_from_kubeconfig
from bizdomain.members.rest import KINDS, Kube, KubeError

__all__ = ["KINDS", "CredentialsError", "Kube", "KubeError", "MemberClients", "kube_from_kubeconfig"]
