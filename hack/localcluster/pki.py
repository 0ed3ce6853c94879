"""Certificates and kubeconfigs of the local clusters, made with the `openssl` command line.

Each cluster gets a CA of its own (credentials of one cluster mean nothing to another), a serving
certificate for 127.0.0.1, client certificates for the admin and the controller manager, and
service-account signing keys. Called by :mod:`localcluster.servers` when a cluster is created.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from localcluster.errors import ControlPlaneError
from localcluster.state import Cluster

__all__ = ["make_pki", "write_kubeconfig"]

_LEAF = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _new_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path.name, cwd=path.parent)
    path.chmod(0o600)


def _sign(pki: Path, name: str, subject: str, extensions: str) -> None:
    """`name`.key and `name`.crt signed by the CA in `pki`, with the given v3 extensions."""
    _new_key(pki / f"{name}.key")
    (pki / f"{name}.ext").write_text(extensions)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=pki)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "3650", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
        cwd=pki,
    )  # fmt: skip
    (pki / f"{name}.csr").unlink()
    (pki / f"{name}.ext").unlink()


def make_pki(pki: Path, cluster: str) -> None:
    """A CA of its own per cluster, its serving and client certificates, and the SA keys."""
    pki.mkdir(parents=True, exist_ok=True)
    _new_key(pki / "ca.key")
    subject = f"/CN=bizdomain-{cluster}-ca"
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", subject, "-days", "3650", "-out", "ca.crt", cwd=pki)
    serving = "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
    _sign(pki, "serving", "/CN=kube-apiserver", _LEAF + serving)
    _sign(pki, "admin", "/O=system:masters/CN=admin", _LEAF + "extendedKeyUsage=clientAuth\n")
    _sign(pki, "controller-manager", "/CN=system:kube-controller-manager", _LEAF + "extendedKeyUsage=clientAuth\n")
    _new_key(pki / "sa.key")
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, cluster: Cluster, cert: str, user: str) -> None:
    """A kubeconfig for `cluster` that authenticates with the client certificate `cert`."""
    pki = Path(cluster.dir)
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: {cluster.name}
  cluster:
    server: {cluster.url}
    certificate-authority-data: {_b64(pki / "ca.crt")}
users:
- name: {user}
  user:
    client-certificate-data: {_b64(pki / f"{cert}.crt")}
    client-key-data: {_b64(pki / f"{cert}.key")}
contexts:
- name: {cluster.name}
  context:
    cluster: {cluster.name}
    user: {user}
current-context: {cluster.name}
preferences: {{}}
"""
    )
    path.chmod(0o600)
