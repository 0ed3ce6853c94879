"""Leader election with a coordination.k8s.io Lease: exactly one replica runs the operator.

A replica that does not hold the Lease waits (and answers its liveness probe) until the
holder stops renewing; the holder renews every ``retry`` seconds and, if it cannot renew
within the lease duration, stops the operator and exits so that it can never write beside
a new leader (the pod restarts and queues again). On a clean shutdown the holder releases
the Lease, so the standby takes over at once. Expiry is judged by when *this* replica last
saw the record change (its own monotonic clock), never by comparing wall clocks.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bizdomain.members.rest import JSON, Kube, KubeError

log = logging.getLogger(__name__)


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaseConfig:
    namespace: str
    name: str
    identity: str
    duration: float = 15.0
    retry: float = 2.0


class Elector:
    """Acquire, keep and release one Lease."""

    def __init__(
        self,
        kube: Kube,
        config: LeaseConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.kube = kube
        self.config = config
        self._clock = clock  # this replica's monotonic clock: the only one expiry is judged by
        self._sleep = sleep
        self._observed: tuple[str, float] | None = None  # (resourceVersion, monotonic time first seen)

    @property
    def _path(self) -> str:
        c = self.config
        return f"/apis/coordination.k8s.io/v1/namespaces/{c.namespace}/leases"

    def _spec(self, transitions: int, acquire: bool, old: JSON | None) -> JSON:
        now = _micro_now()
        spec: JSON = {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": int(self.config.duration),
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        spec["acquireTime"] = now if acquire else (old or {}).get("acquireTime", now)
        return spec

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease afterwards."""
        c = self.config
        try:
            lease = await self.kube.request("GET", f"{self._path}/{c.name}")
        except KubeError as exc:
            if exc.status != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": c.name, "namespace": c.namespace},
                "spec": self._spec(0, True, None),
            }
            try:
                await self.kube.request("POST", self._path, body=body)
            except KubeError as create_exc:
                if create_exc.status == 409:
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        version = lease["metadata"]["resourceVersion"]
        now = self._clock()
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, now)
        mine = holder == c.identity
        expired = now - self._observed[1] > float(spec.get("leaseDurationSeconds") or c.duration)
        if not (mine or not holder or expired):
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        lease["spec"] = self._spec(transitions, not mine, spec)
        try:
            updated = await self.kube.request("PUT", f"{self._path}/{c.name}", body=lease)
        except KubeError as exc:
            if exc.status == 409:  # someone else renewed or took it first
                return False
            raise
        self._observed = (updated["metadata"]["resourceVersion"], self._clock())
        if not mine:
            log.info("leader election: %s acquired lease %s/%s", c.identity, c.namespace, c.name)
        return True

    async def acquire(self) -> None:
        """Wait until this replica holds the Lease."""
        announced = False
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
            except KubeError as exc:
                log.warning("leader election: %s", exc)
            if not announced:
                log.info("leader election: standing by; another replica holds %s", self.config.name)
                announced = True
            await self._sleep(self.config.retry)

    async def keep(self) -> None:
        """Renew until renewing fails for a whole lease duration; then return (leadership lost)."""
        last_ok = self._clock()
        while True:
            await self._sleep(self.config.retry)
            try:
                if await self.try_acquire_or_renew():
                    last_ok = self._clock()
                    continue
                log.error("leader election: lease %s was taken by another replica", self.config.name)
                return
            except KubeError as exc:
                log.warning("leader election: renewing failed: %s", exc)
            if self._clock() - last_ok > self.config.duration - self.config.retry:
                log.error("leader election: could not renew lease %s in time", self.config.name)
                return

    async def release(self) -> None:
        """Give the Lease up (clean shutdown), so a standby takes over without waiting."""
        c = self.config
        try:
            lease = await self.kube.request("GET", f"{self._path}/{c.name}")
            if (lease.get("spec") or {}).get("holderIdentity") != c.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            await self.kube.request("PUT", f"{self._path}/{c.name}", body=lease)
            log.info("leader election: released lease %s/%s", c.namespace, c.name)
        except KubeError as exc:
            log.warning("leader election: releasing failed: %s", exc)
