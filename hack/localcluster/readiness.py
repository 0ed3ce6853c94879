"""Health and readiness of the local servers, read over loopback HTTP(S), never through a proxy.

Used by :mod:`localcluster.plane` (wait until usable, `status`) and :mod:`localcluster.faults`
(wait for a restarted API server's /readyz).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from localcluster.processes import LOOPBACK
from localcluster.state import Cluster, State

__all__ = ["admin_context", "apiserver_ready", "cluster_not_ready", "etcd_healthy", "get"]


def get(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET `url` directly (never through a proxy); (status, body), status 0 if unreachable."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, ssl.SSLError):
        return 0, b""


def admin_context(cluster: Cluster) -> ssl.SSLContext:
    """A TLS context that trusts the cluster's CA and presents its admin client certificate."""
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    cert, key = cluster.admin_cert
    context.load_cert_chain(str(cert), str(key))
    return context


def etcd_healthy(state: State) -> bool:
    status, body = get(f"{state.etcd_url}/health")
    return status == 200 and b'"health":"true"' in body


def apiserver_ready(cluster: Cluster) -> bool:
    status, _ = get(f"{cluster.url}/readyz", admin_context(cluster))
    return status == 200


def cluster_not_ready(cluster: Cluster) -> str | None:
    """Why `cluster` cannot be used yet (None once it can): servers and controllers answer."""
    context = admin_context(cluster)
    if get(f"{cluster.url}/readyz", context)[0] != 200:
        return "kube-apiserver /readyz"
    cm_url = f"https://{LOOPBACK}:{cluster.controller_manager_port}/healthz"
    if get(cm_url, context)[0] != 200:
        return "kube-controller-manager /healthz"
    # The serviceaccount controller has run and the clusterrole-aggregation controller has filled
    # the built-in `edit` role: the controllers tests and the operator rely on are working.
    if get(f"{cluster.url}/api/v1/namespaces/default/serviceaccounts/default", context)[0] != 200:
        return "the default ServiceAccount"
    status, body = get(f"{cluster.url}/apis/rbac.authorization.k8s.io/v1/clusterroles/edit", context)
    if status != 200 or not json.loads(body).get("rules"):
        return "the aggregated `edit` ClusterRole"
    return None
