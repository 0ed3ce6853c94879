"""The member view against a real API server: listed, kept current by watches, and stale when
it cannot be trusted (the sync engine then applies and prunes nothing).

- objects made, edited and deleted by someone else reach the view through its watches, and a
  hand edit of an object the plan wants is reported as drift of its domain;
- a delete carrying the view's resourceVersion is refused once the object changed;
- with the member's API server stopped the view turns stale, and recovers once it is back.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings
from collections.abc import Callable

import pytest

from bizdomain.config import Settings
from bizdomain.decide import in_sync
from bizdomain.members import Kube, KubeError, kube_from_kubeconfig
from bizdomain.plan.objects import build, tenant_labels
from bizdomain.plan.roles import desired_workspace_crd
from bizdomain.sync.view import MemberView
from support import Cleanup, ClusterHandle, ControlPlaneHandle

pytestmark = [pytest.mark.cluster]


async def _kube(cluster: ClusterHandle) -> Kube:
    """An admin client, once the member serves Workspaces (the operator installs the CRD)."""
    kube = await kube_from_kubeconfig(cluster.kubeconfig.read_text(), cluster.name, Settings())
    crd = desired_workspace_crd()
    await kube.apply(crd.body)
    await asyncio.to_thread(cluster.kubectl, "wait", "--for=condition=Established", f"crd/{crd.name}", "--timeout=30s")
    return kube


async def _until(check: Callable[[], bool], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_watches_keep_the_view_current_and_report_hand_edits(
    dev: ClusterHandle, cleanup: Cleanup, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bizdomain.sync.view")  # a broken or expired watch, on failure
    domain = unique_name
    labels = tenant_labels(domain, "dev")
    namespace = build("Namespace", unique_name, None, labels, {})
    quota = build("ResourceQuota", "quota", unique_name, labels, {"spec": {"hard": {"pods": "10"}}})
    cleanup.add(dev, "namespace", unique_name)
    cleanup.add(dev, "namespace", f"{unique_name}-theirs")

    async def scenario() -> None:
        kube = await _kube(dev)
        drifted: list[str] = []
        view = MemberView(kube, drift=drifted.append)
        try:
            view.expect([namespace, quota], replace=True)
            await view.relist()
            view.check()
            assert quota.key not in view.managed()
            for desired in (namespace, quota):
                view.seen(await kube.apply(desired.body))
            assert in_sync(quota, view.managed(frozenset({domain}))[quota.key])

            dev.kubectl("create", "namespace", f"{unique_name}-theirs")
            await _until(lambda: f"{unique_name}-theirs" in view.namespaces(), "a foreign namespace in the view")
            assert ("Namespace", None, f"{unique_name}-theirs") not in view.managed()

            before = view.managed()[quota.key]["metadata"]["resourceVersion"]
            dev.kubectl("patch", "resourcequota", "quota", "-n", unique_name, "--type=merge", "-p",
                        '{"spec":{"hard":{"pods":"99"}}}')  # fmt: skip
            await _until(lambda: domain in drifted, "the hand edit reported as drift")
            # Reported for this domain only; a report more for one edit costs one partial pass, no write
            # (CI twice saw two reports for this edit, with no watch broken or relisted: not yet explained).
            assert set(drifted) == {domain}
            assert not in_sync(quota, view.managed()[quota.key])
            with pytest.raises(KubeError) as refused:
                await kube.delete("ResourceQuota", "quota", unique_name, resource_version=before)
            assert refused.value.status == 409

            view.seen(await kube.apply(quota.body))
            assert in_sync(quota, view.managed()[quota.key])
            reported = len(drifted)
            dev.kubectl("delete", "resourcequota", "quota", "-n", unique_name)
            await _until(lambda: quota.key not in view.managed(), "the deletion in the view")
            await _until(lambda: len(drifted) > reported, "the deletion reported as drift")
            assert set(drifted) == {domain}
        finally:
            await view.close()
            await kube.close()

    asyncio.run(scenario())


def test_a_view_whose_server_went_away_is_stale_until_it_is_back(
    control_plane: ControlPlaneHandle, dev: ClusterHandle
) -> None:
    async def scenario() -> None:
        kube = await _kube(dev)
        view = MemberView(kube)
        try:
            await view.relist()
            view.check()
            control_plane.faults.stop_apiserver("dev")
            try:

                def stale() -> bool:
                    try:
                        view.check()
                    except KubeError:
                        return True
                    return False

                await _until(stale, "the view marked stale")
                with pytest.raises(KubeError) as failed:
                    await view.ready()
                assert failed.value.unreachable
            finally:
                control_plane.faults.start_apiserver("dev")
            deadline = time.monotonic() + 30
            while True:
                try:
                    await view.ready()
                    break
                except KubeError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            assert "default" in view.namespaces()
        finally:
            await view.close()
            await kube.close()

    asyncio.run(scenario())
    # A watch cancelled while it was reconnecting to the restarted server can leave aiohttp's
    # half-open transport to the garbage collector: collect it here, not during a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
