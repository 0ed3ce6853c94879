"""Deleting, at the end of a test, what the test created on the clusters."""

from __future__ import annotations

import json

from localcluster import KubectlError
from support.controlplane import ClusterHandle

TEST_LABEL = "bizdomain.test/created-by"


class Cleanup:
    """Objects a test created, deleted (newest first, without waiting) when the test ends."""

    def __init__(self) -> None:
        self._targets: list[tuple[ClusterHandle, tuple[str, ...]]] = []

    def add(self, cluster: ClusterHandle, *target: str) -> None:
        """Delete `kubectl delete <target>` later, e.g. add(dev, "crd", name) or
        add(dev, "-n", ns, "configmap", name). Register before creating, so a half-made object
        is removed too."""
        self._targets.append((cluster, target))

    def namespace(self, cluster: ClusterHandle, name: str, labels: dict[str, str] | None = None) -> str:
        """Create namespace `name` on `cluster` (deleted at the end of the test); return its name."""
        self.add(cluster, "namespace", name)
        manifest = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {TEST_LABEL: "pytest", **(labels or {})}},
        }
        cluster.kubectl("create", "-f", "-", input=json.dumps(manifest))
        return name

    def run(self) -> None:
        errors = []
        while self._targets:
            cluster, target = self._targets.pop()
            try:
                cluster.kubectl("delete", "--ignore-not-found", "--wait=false", *target)
            except KubectlError as e:
                errors.append(f"{cluster.name}: {e}")
        if errors:
            raise AssertionError("cleanup failed:\n" + "\n".join(errors))
