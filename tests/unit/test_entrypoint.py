"""The operator's entry point imports kopf without the Kubernetes clients' generated models."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from bizdomain.__main__ import import_handlers
import_handlers()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("kubernetes", "kubernetes_asyncio"))
assert "kopf" in sys.modules and "bizdomain.handlers" in sys.modules
assert not loaded, loaded
import kubernetes_asyncio.config  # still importable after kopf (a kubeconfig with a credential plugin needs it)
print("ok")
"""


def test_kopf_is_imported_without_generated_client_models() -> None:
    # A fresh interpreter: this test process has imported the clients already (the test helpers use them).
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
