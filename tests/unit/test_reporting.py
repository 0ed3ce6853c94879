"""The status writer's rules of when to write, with a client that only records the writes."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bizdomain.members import Kube
from bizdomain.reporting import PROGRESS_SECONDS, StatusWriter
from unit.factories import SETTINGS


class _Recorder:
    cluster = "host"

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []

    async def apply(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.applied.append(body)
        return body


def _status(ready: str, clusters: str, generation: int = 1) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "conditions": [
            {"type": "Ready", "status": ready, "reason": "Reconciled" if ready == "True" else "Progressing"}
        ],
        "summary": {"clusters": clusters},
    }


def _writer() -> tuple[StatusWriter, _Recorder]:
    recorder = _Recorder()
    return StatusWriter(SETTINGS, cast(Kube, recorder)), recorder


def test_progress_alone_waits_and_a_flip_is_written_at_once() -> None:
    writer, recorder = _writer()

    async def rounds() -> None:
        await writer._write("BusinessDomain", "pay", None, {}, _status("False", "0/2"))
        await writer._write("BusinessDomain", "pay", None, _status("False", "0/2"), _status("False", "1/2"))
        assert writer.deferred is not None
        assert 0 < writer.deferred <= PROGRESS_SECONDS
        await writer._write("BusinessDomain", "pay", None, _status("False", "0/2"), _status("True", "2/2"))

    asyncio.run(rounds())
    assert [b["status"]["summary"]["clusters"] for b in recorder.applied] == ["0/2", "2/2"]


def test_a_new_generation_is_never_held_back() -> None:
    writer, recorder = _writer()

    async def rounds() -> None:
        await writer._write("EnvironmentBinding", "dev", "domain-pay", {}, _status("True", "1/1"))
        await writer._write(
            "EnvironmentBinding", "dev", "domain-pay", _status("True", "1/1"), _status("True", "1/1", generation=2)
        )

    asyncio.run(rounds())
    assert len(recorder.applied) == 2
    assert writer.deferred is None
