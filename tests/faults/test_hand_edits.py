"""People edit a member by hand while the operator reconciles the same domain.

Three editors patch the domain's managed objects on dev 30 times each, concurrently, while the
domain's quota changes on the host (so the operator is reconciling): a label of their own added
to the managed namespace, the managed quota's `pods` changed, a subject added to a managed
RoleBinding. Pass criteria: the operator converges to the desired values on the fields it owns
(the quota and the subjects), never removes the labels people added (a field it does not own),
and never modifies or deletes what carries none of its labels (a RoleBinding made by hand in the
domain's namespace, a foreign namespace and its ConfigMap: same resourceVersion before/after).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from support import wait_until
from support.platform import MakeDomain, Platform, domain_doc

from .conftest import Faults
from .probes import Stopwatch, domain_converged, metric, report

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

EDITS = 30
HOST_CHANGES = 5
RB = "bizdomain.io:department:backend:developer"
LABEL = "faults.bizdomain.test/edit-{}"


def resource_version(platform: Platform, kind: str, name: str, namespace: str | None = None) -> str:
    obj = platform.get(kind, name, namespace, cluster="dev")
    assert obj is not None, f"{kind} {namespace or ''}/{name} is gone from dev"
    return str(obj["metadata"]["resourceVersion"])


def run_all(workers: list[Callable[[], None]]) -> None:
    """Run every worker in its own thread; re-raise the first failure."""
    failures: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def test_hand_edits_race_the_operator(
    platform: Platform, make_domain: MakeDomain, faults: Faults, unique_name: str
) -> None:
    name = unique_name
    make_domain(name, envs=("dev",))
    dev = platform.member("dev")
    desired_subjects = platform.require("rolebinding", RB, name, cluster="dev")["subjects"]

    # What is not the operator's: a RoleBinding made by hand in the domain's namespace, and a
    # foreign namespace with a ConfigMap.
    foreign = f"{name}-foreign"
    faults.undo(
        "delete the foreign namespace",
        lambda: dev.kubectl("delete", "ns", foreign, "--ignore-not-found", "--wait=false"),
    )
    dev.kubectl("create", "rolebinding", "hand-made", "--clusterrole=view", "--user=alice", "-n", name)
    dev.kubectl("create", "namespace", foreign)
    dev.kubectl("create", "configmap", "precious", "-n", foreign, "--from-literal=k=v")
    untouchable = [("rolebinding", "hand-made", name), ("namespace", foreign, None), ("configmap", "precious", foreign)]
    versions = {t: resource_version(platform, *t) for t in untouchable}
    corrected = {
        kind: metric(platform, "bizdomain_objects_total", cluster="dev", kind=kind, action="corrected")
        for kind in ("ResourceQuota", "RoleBinding")
    }

    def label_namespace() -> None:
        for i in range(EDITS):
            dev.kubectl("label", "namespace", name, f"{LABEL.format(i)}=by-hand")

    def raise_quota() -> None:
        for i in range(EDITS):
            patch = {"spec": {"hard": {"pods": str(900 + i)}}}
            dev.kubectl(
                "patch", "resourcequota", "bizdomain-quota", "-n", name, "--type=merge", "-p", json.dumps(patch)
            )

    def add_subject() -> None:
        for i in range(EDITS):
            subject = {"kind": "User", "name": f"mallory-{i}", "apiGroup": "rbac.authorization.k8s.io"}
            patch = [{"op": "add", "path": "/subjects/-", "value": subject}]
            dev.kubectl("patch", "rolebinding", RB, "-n", name, "--type=json", "-p", json.dumps(patch))

    def change_host() -> None:
        for i in range(HOST_CHANGES):
            platform.apply(domain_doc(name, quota={"requests.cpu": "4", "pods": str(30 + i)}))

    editing = Stopwatch()
    run_all([label_namespace, raise_quota, add_subject, change_host])
    edits_took = editing()
    settled = Stopwatch()
    want_quota = {"requests.cpu": "4", "pods": str(30 + HOST_CHANGES - 1)}

    def owned_fields_desired() -> bool:
        quota = platform.require("resourcequota", "bizdomain-quota", name, cluster="dev")
        rb = platform.require("rolebinding", RB, name, cluster="dev")
        return bool(quota["spec"]["hard"] == want_quota and rb["subjects"] == desired_subjects)

    wait_until(owned_fields_desired, timeout=30, interval=0.25, what="quota and subjects back to the desired values")
    converged_in = settled()
    wait_until(lambda: domain_converged(platform, name), timeout=30, what="the domain Ready")

    labels = platform.require("namespace", name, cluster="dev")["metadata"]["labels"]
    removed = [LABEL.format(i) for i in range(EDITS) if labels.get(LABEL.format(i)) != "by-hand"]
    assert not removed, f"labels added by hand were removed: {removed}"
    assert labels["app.kubernetes.io/managed-by"] == "bizdomain"
    for target, version in versions.items():
        assert resource_version(platform, *target) == version, f"{target} was modified"
    corrections = {
        kind: metric(platform, "bizdomain_objects_total", cluster="dev", kind=kind, action="corrected") - before
        for kind, before in corrected.items()
    }
    report(
        "hand_edits_race",
        hand_edits=3 * EDITS,
        host_changes=HOST_CHANGES,
        edits_took_s=edits_took,
        converged_after_last_edit_s=converged_in,
        corrections=corrections,
    )
