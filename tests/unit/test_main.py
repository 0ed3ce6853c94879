"""The operator's entry point: kopf imported without the clients' generated models; a repeated stop
signal is a line, not a traceback."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from bizdomain.__main__ import quiet_repeated_stop_signals

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


def test_a_second_stop_signal_is_one_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def twice() -> None:
        loop = asyncio.get_running_loop()
        quiet_repeated_stop_signals(loop)
        stop = loop.create_future()
        loop.call_soon(stop.set_result, signal.SIGTERM)  # what kopf's handler does, once per signal
        loop.call_soon(stop.set_result, signal.SIGTERM)
        await asyncio.sleep(0.01)

    with caplog.at_level("INFO"):
        asyncio.run(twice())
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "already stopping" in caplog.text
