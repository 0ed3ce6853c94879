"""Golden-file tests of offline plans: the examples and the edge cases of issue 15.

Each directory under ``cases/`` holds ``base/`` (the files the change starts from; none: every
object is new), ``change/`` (the files of the change) and ``args`` (extra flags); the plan
printed for them, plain, and the exit code with ``--detailed-exitcode`` are in ``expected.txt``
(and, where present, the JSON form in ``expected.json``). Run with ``BIZDOMAIN_UPDATE_GOLDEN=1``
to rewrite them, then read the diff: it is the review.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bizdomain import cli

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).parents[3]
UPDATE = os.environ.get("BIZDOMAIN_UPDATE_GOLDEN") == "1"


def _argv(case: Path, *extra: str) -> list[str]:
    argv = ["plan", "-f", str(case / "change"), "--color", "never", "--detailed-exitcode"]
    if (case / "base").is_dir():
        argv += ["--base", str(case / "base")]
    return argv + (case / "args").read_text().split() + list(extra)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    code = cli.main(argv)
    out = capsys.readouterr().out
    return out.replace(str(ROOT) + "/", ""), code


def _check(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs (BIZDOMAIN_UPDATE_GOLDEN=1 rewrites it)"


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("BIZDOMAIN_") and v != "BIZDOMAIN_BIN_DIR"]:
        monkeypatch.delenv(var)


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_offline_plan(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, code = _run(_argv(CASES / case), capsys)
    _check(CASES / case / "expected.txt", f"{out}(exit {code})\n")
    if (CASES / case / "expected.json").exists() or (UPDATE and case == "backend-developer-in-prod"):
        out, _ = _run([*_argv(CASES / case), "-o", "json"], capsys)
        _check(CASES / case / "expected.json", out)


def test_the_gitops_example_plans_from_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    out, code = _run(["plan", "-f", str(ROOT / "examples/gitops"), "--color", "never", "--detailed-exitcode"], capsys)
    _check(CASES / "gitops-example.txt", f"{out}(exit {code})\n")


def test_an_unchanged_base_plans_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Planning a base against itself: the operator's converged state needs nothing (exit 0)."""
    for case in sorted(p for p in CASES.iterdir() if (p / "base").is_dir()):
        out, code = _run(
            ["plan", "-f", str(case / "base"), "--base", str(case / "base"), "--detailed-exitcode"], capsys
        )
        assert code == 0, (case.name, out)
        assert "No changes on any member." in out


def test_no_secret_content_is_ever_printed(capsys: pytest.CaptureFixture[str]) -> None:
    for output in ("text", "json"):
        out, _ = _run([*_argv(CASES / "new-domain"), "-o", output], capsys)
        assert "SECRET-KUBECONFIG" not in out
        assert "Secret" in out  # counted as skipped, by kind only


def test_json_is_versioned_and_counts_match(capsys: pytest.CaptureFixture[str]) -> None:
    out, code = _run([*_argv(CASES / "backend-developer-in-prod"), "-o", "json"], capsys)
    plan = json.loads(out)
    assert code == 2
    assert plan["apiVersion"] == "bizdomain.io/plan/v1"
    changes = [c for cluster in plan["clusters"] for c in cluster["changes"]]
    assert plan["summary"]["create"] == sum(c["action"] == "create" for c in changes) == 4
    assert plan["summary"]["prune"] == 4
    assert {c["name"] for c in changes} == {
        "bizdomain.io:department:backend:developer",
        "bizdomain.io:department:backend:viewer",
    }
    assert all(c["dangers"] for c in changes)


def test_a_name_with_terminal_escapes_cannot_hide_a_danger_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker's change: admin for a user whose name moves the cursor up and erases the DANGER
    line. Such a name is refused, and what the plan prints of it is escaped, never obeyed."""
    case = CASES / "new-domain" / "change"
    for file in case.iterdir():
        (tmp_path / file.name).write_text(file.read_text())
    domain = (tmp_path / "domain.yaml").read_text()
    hidden = "mallory\\x1b[1A\\x1b[2K\\x1b[8m"  # YAML double-quoted escapes: up, erase line, invisible
    (tmp_path / "domain.yaml").write_text(
        domain.replace("{kind: Group, name: sre}", f'{{kind: User, name: "{hidden}"}}')
    )
    out, _ = _run(["plan", "-f", str(tmp_path), "--color", "always", "--detailed-exitcode"], capsys)
    assert "\x1b[1A" not in out
    assert "\x1b[2K" not in out
    assert "\x1b[8m" not in out
    # Such a name is refused (at admission, and here as the operator parses it): it grants nothing.
    assert "may not contain control characters" in out
    assert "grants admin to User mallory" not in out
