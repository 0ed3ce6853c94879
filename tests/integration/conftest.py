"""Fixtures for tests against the real host API server with bizdomain's CRDs installed (no operator).

`bizdomain_crds` (session) server-side applies crds/ to the host, exactly as `make install` does,
and waits until every CRD is Established; applying is idempotent, so a control plane reused from
`make cluster-up` or another suite is fine. The CRDs stay installed for the rest of the session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from support import ClusterHandle

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"


@pytest.fixture(scope="session")
def bizdomain_crds(host: ClusterHandle) -> list[str]:
    """The names of the bizdomain CRDs, installed on the host and Established."""
    host.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR))
    crds = sorted(yaml.safe_load(path.read_text())["metadata"]["name"] for path in CRD_DIR.glob("*.yaml"))
    host.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{name}" for name in crds))
    return crds
