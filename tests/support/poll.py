"""Polling with a deadline, for tests that wait on controllers (never a fixed long sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

from kubernetes.client.exceptions import ApiException

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | Literal[False] | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "the condition",
) -> T:
    """Call `check` until it returns something truthy and return that; fail after `timeout`.
    (`None` and `False` are never returned: the result's type leaves them out.)"""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {result!r})")
        time.sleep(interval)


def is_gone(read: Callable[[], object]) -> bool:
    """True if `read` (a client read call) answers 404; any other error propagates."""
    try:
        read()
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False
