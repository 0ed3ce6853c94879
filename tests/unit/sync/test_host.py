"""The binding quota the quota controller has not counted is made again, once it is old enough."""

from __future__ import annotations

import datetime

from bizdomain import names
from bizdomain.sync.host import RECOUNT_AFTER_SECONDS, _uncounted

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.UTC)


def quota(age: float, used: dict[str, str] | None) -> dict[str, object]:
    made = (NOW - datetime.timedelta(seconds=age)).isoformat().replace("+00:00", "Z")
    status = {} if used is None else {"used": used}
    return {"metadata": {"name": names.HOST_QUOTA_NAME, "creationTimestamp": made}, "status": status}


def test_an_old_uncounted_quota_is_made_again() -> None:
    assert _uncounted(quota(RECOUNT_AFTER_SECONDS + 1, None), NOW)
    assert _uncounted(quota(RECOUNT_AFTER_SECONDS + 1, {}), NOW)


def test_a_counted_or_young_quota_is_left_alone() -> None:
    assert not _uncounted(quota(RECOUNT_AFTER_SECONDS + 100, {names.BINDING_COUNT_RESOURCE: "2"}), NOW)
    assert not _uncounted(quota(RECOUNT_AFTER_SECONDS - 5, None), NOW)
