"""JSON log lines carry the domain, environment and cluster they are about."""

from __future__ import annotations

import json
import logging

from bizdomain.logs import JsonFormatter


def test_json_lines_carry_the_context() -> None:
    record = logging.LogRecord("bizdomain.runtime", logging.INFO, __file__, 1, "cluster %s: %s", ("dev", "ok"), None)
    record.cluster, record.domain, record.environment = "dev", "payments", "prod"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "cluster dev: ok"
    assert (line["cluster"], line["domain"], line["environment"]) == ("dev", "payments", "prod")
    assert line["level"] == "info"


def test_json_lines_without_context_have_no_empty_keys() -> None:
    record = logging.LogRecord("kopf", logging.WARNING, __file__, 1, "plain", (), None)
    line = json.loads(JsonFormatter().format(record))
    assert "cluster" not in line
    assert line["message"] == "plain"
