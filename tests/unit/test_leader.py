"""The leader elector's state machine: acquire, renew, lose, take over an expired Lease, release.

The Lease calls (GET, POST, PUT on one Lease, with the resourceVersion check a server makes)
and the monotonic clock are fakes; the elector's use of a real API server is tested in
tests/e2e/test_ha.py and tests/chart/test_ha.py.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, cast

import pytest

from bizdomain.leader import Elector, LeaseConfig
from bizdomain.members.rest import JSON, KubeError

PATH = "/apis/coordination.k8s.io/v1/namespaces/bizdomain-system/leases"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class Leases:
    """One Lease in memory, answering the elector's calls as a server would (409 on a stale write)."""

    def __init__(self) -> None:
        self.lease: JSON | None = None
        self.version = 0
        self.down = False
        self.race: JSON | None = None  # a spec another replica writes between our GET and PUT

    def _store(self, body: JSON) -> JSON:
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)

    async def request(self, method: str, path: str, body: JSON | None = None) -> JSON:
        if self.down:
            raise KubeError("host", 0, "", "connection refused")
        if method == "GET":
            if self.lease is None:
                raise KubeError("host", 404, "NotFound", "leases not found")
            return copy.deepcopy(self.lease)
        assert body is not None
        if method == "POST":
            assert path == PATH
            if self.lease is not None:
                raise KubeError("host", 409, "AlreadyExists", "exists")
            return self._store(body)
        assert method == "PUT"
        assert self.lease is not None
        if self.race is not None:
            self._store({**self.lease, "spec": self.race})
            self.race = None
        if body["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            raise KubeError("host", 409, "Conflict", "the object has been modified")
        return self._store(body)

    def held_by(self, holder: str, duration: int = 15) -> None:
        spec = {"holderIdentity": holder, "leaseDurationSeconds": duration, "leaseTransitions": 3}
        meta = {"name": "bizdomain", "namespace": "bizdomain-system"}
        self._store({"metadata": meta, "spec": {**spec, "acquireTime": "then", "renewTime": "then"}})

    def renewed_by_holder(self) -> None:
        assert self.lease is not None
        self._store({**self.lease, "spec": {**self.lease["spec"], "renewTime": "later"}})

    @property
    def spec(self) -> JSON:
        assert self.lease is not None
        spec: JSON = self.lease["spec"]
        return spec


def elector(leases: Leases, clock: Clock, identity: str = "me") -> Elector:
    config = LeaseConfig(namespace="bizdomain-system", name="bizdomain", identity=identity, duration=15, retry=2)
    return Elector(cast(Any, leases), config, clock=clock, sleep=clock.sleep)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_the_first_replica_creates_the_lease() -> None:
    leases, clock = Leases(), Clock()
    assert run(elector(leases, clock).try_acquire_or_renew())
    assert leases.spec["holderIdentity"] == "me"
    assert leases.spec["leaseTransitions"] == 0
    assert leases.spec["acquireTime"] == leases.spec["renewTime"]


def test_a_held_lease_is_not_taken_until_it_expires_by_this_replicas_clock() -> None:
    leases, clock = Leases(), Clock()
    leases.held_by("other")
    me = elector(leases, clock)
    assert not run(me.try_acquire_or_renew())
    clock.now += 15
    assert not run(me.try_acquire_or_renew()), "not past the duration yet"
    clock.now += 1
    assert run(me.try_acquire_or_renew())
    assert leases.spec["holderIdentity"] == "me"
    assert leases.spec["leaseTransitions"] == 4
    assert leases.spec["acquireTime"] != "then"


def test_a_holder_that_keeps_renewing_never_expires() -> None:
    leases, clock = Leases(), Clock()
    leases.held_by("other")
    me = elector(leases, clock)
    for _ in range(10):
        assert not run(me.try_acquire_or_renew())
        clock.now += 10
        leases.renewed_by_holder()  # a new resourceVersion: seen now, by this replica's clock
    assert leases.spec["holderIdentity"] == "other"


def test_an_empty_holder_is_free_at_once() -> None:
    leases, clock = Leases(), Clock()
    leases.held_by("")
    assert run(elector(leases, clock).try_acquire_or_renew())


def test_renewing_keeps_the_acquire_time_and_transitions() -> None:
    leases, clock = Leases(), Clock()
    me = elector(leases, clock)
    run(me.try_acquire_or_renew())
    acquired, transitions = leases.spec["acquireTime"], leases.spec["leaseTransitions"]
    clock.now += 2
    assert run(me.try_acquire_or_renew())
    assert (leases.spec["acquireTime"], leases.spec["leaseTransitions"]) == (acquired, transitions)


def test_losing_a_race_for_the_lease_is_no_error() -> None:
    leases, clock = Leases(), Clock()
    leases.held_by("")
    leases.race = {"holderIdentity": "other", "leaseDurationSeconds": 15}
    assert not run(elector(leases, clock).try_acquire_or_renew())
    assert leases.spec["holderIdentity"] == "other"


def test_acquire_waits_for_the_holder_to_stop_renewing() -> None:
    leases, clock = Leases(), Clock()
    leases.held_by("other")
    start = clock.now
    run(elector(leases, clock).acquire())
    assert leases.spec["holderIdentity"] == "me"
    assert clock.now - start > 15


def test_keep_returns_when_another_replica_took_the_lease() -> None:
    leases, clock = Leases(), Clock()
    me = elector(leases, clock)
    run(me.try_acquire_or_renew())
    leases.held_by("other")
    leases.renewed_by_holder()
    run(asyncio.wait_for(me.keep(), 5))
    assert leases.spec["holderIdentity"] == "other"


def test_keep_gives_up_when_renewing_fails_for_a_lease_duration() -> None:
    leases, clock = Leases(), Clock()
    me = elector(leases, clock)
    run(me.try_acquire_or_renew())
    leases.down = True
    start = clock.now
    run(asyncio.wait_for(me.keep(), 5))
    assert clock.now - start <= 15, "stopped before another replica may take over"


@pytest.mark.parametrize(("holder", "released"), [("me", True), ("other", False)])
def test_release_frees_only_our_own_lease(holder: str, released: bool) -> None:
    leases, clock = Leases(), Clock()
    leases.held_by(holder)
    run(elector(leases, clock).release())
    assert (leases.spec["holderIdentity"] == "") is released
    assert (leases.spec["leaseDurationSeconds"] == 1) is released
