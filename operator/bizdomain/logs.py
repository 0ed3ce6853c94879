"""Logging: readable lines by default, JSON lines when asked (one object per line, with context).

The runtime passes ``extra={"cluster": ...}`` (and domain/environment where known); JSON
output carries those keys. Credentials are never logged: messages are built from
reasons and names, never from kubeconfig contents.
"""

from __future__ import annotations

import json
import logging
from typing import Any

CONTEXT = ("domain", "environment", "cluster")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(fmt: str, level: int) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "kubernetes_asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if level > logging.DEBUG:
        # kopf says "Handler ... succeeded" for every watch event; only its problems are news.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
