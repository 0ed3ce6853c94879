"""Proofs that the local control plane is a real one, with no mocks: controllers run (namespace,
garbage collector, resource quota, service-account tokens, role aggregation), admission and RBAC
decide, CRD CEL rules reject, and the clusters are isolated from each other."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from support import Cleanup, ClusterHandle, ControlPlaneHandle, is_gone, wait_until

pytestmark = pytest.mark.cluster

ApiClientFactory = Callable[[ClusterHandle], client.ApiClient]


def _meta(name: str, **fields: Any) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, **fields)


def _pod(name: str) -> client.V1Pod:
    container = client.V1Container(name="main", image="registry.k8s.io/pause:3.10")
    return client.V1Pod(metadata=_meta(name), spec=client.V1PodSpec(containers=[container]))


def _config_map(name: str, **fields: Any) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=_meta(name, **fields), data={"k": "v"})


def test_deleting_a_namespace_removes_it_and_its_contents(
    dev: ClusterHandle, api_client: ApiClientFactory, cleanup: Cleanup, unique_name: str
) -> None:
    core = client.CoreV1Api(api_client(dev))
    ns = cleanup.namespace(dev, unique_name)
    core.create_namespaced_config_map(ns, _config_map("payload"))

    core.delete_namespace(ns)

    wait_until(lambda: is_gone(lambda: core.read_namespace(ns)), what=f"namespace {ns} to be gone")
    assert is_gone(lambda: core.read_namespaced_config_map("payload", ns))


def test_resource_quota_is_counted_and_enforced(
    dev: ClusterHandle, api_client: ApiClientFactory, cleanup: Cleanup, unique_name: str
) -> None:
    core = client.CoreV1Api(api_client(dev))
    ns = cleanup.namespace(dev, unique_name)
    quota = client.V1ResourceQuota(metadata=_meta("pods"), spec=client.V1ResourceQuotaSpec(hard={"pods": "1"}))
    core.create_namespaced_resource_quota(ns, quota)

    def used() -> dict[str, str] | None:
        status = core.read_namespaced_resource_quota("pods", ns).status
        return status.used if status is not None else None

    assert wait_until(used, what="the quota controller to fill status.used") == {"pods": "0"}
    # The ServiceAccount admission plugin needs the namespace's `default` ServiceAccount.
    wait_until(lambda: not is_gone(lambda: core.read_namespaced_service_account("default", ns)))
    core.create_namespaced_pod(ns, _pod("one"))

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(ns, _pod("two"))

    assert refused.value.status == 403
    assert "exceeded quota" in str(refused.value.body)
    wait_until(lambda: used() == {"pods": "1"}, what="the quota to count the admitted pod")


def test_dependents_are_garbage_collected_after_their_owner(
    dev: ClusterHandle, api_client: ApiClientFactory, cleanup: Cleanup, unique_name: str
) -> None:
    core = client.CoreV1Api(api_client(dev))
    ns = cleanup.namespace(dev, unique_name)
    owner = core.create_namespaced_config_map(ns, _config_map("owner"))
    assert owner.metadata is not None
    reference = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    core.create_namespaced_config_map(ns, _config_map("dependent", owner_references=[reference]))

    core.delete_namespaced_config_map("owner", ns)

    wait_until(
        lambda: is_gone(lambda: core.read_namespaced_config_map("dependent", ns)),
        what="the garbage collector to delete the dependent",
    )


def test_rbac_grants_the_aggregated_edit_role_to_bound_users_and_groups_only(
    dev: ClusterHandle, cleanup: Cleanup, unique_name: str
) -> None:
    ns = cleanup.namespace(dev, unique_name)
    user, group, stranger = f"{unique_name}-alice", f"{unique_name}-team", f"{unique_name}-stranger"
    dev.kubectl("create", "rolebinding", "editors", "--clusterrole=edit", f"--user={user}",
                f"--group={group}", "-n", ns)  # fmt: skip

    def can_create_deployments(*, as_user: str, as_groups: tuple[str, ...] = (), namespace: str = ns) -> str:
        result = dev.kubectl("auth", "can-i", "create", "deployments.apps", "-n", namespace,
                             as_user=as_user, as_groups=as_groups, check=False)  # fmt: skip
        return result.stdout.strip()

    assert wait_until(lambda: can_create_deployments(as_user=user) == "yes", what="RBAC to see the binding")
    assert can_create_deployments(as_user=stranger, as_groups=(group,)) == "yes"
    assert can_create_deployments(as_user=stranger) == "no"
    assert can_create_deployments(as_user=user, namespace="default") == "no"


def test_a_crd_cel_rule_rejects_a_bad_object_with_its_message(
    dev: ClusterHandle, api_client: ApiClientFactory, cleanup: Cleanup, unique_name: str
) -> None:
    group, message = f"{unique_name}.bizdomain.test", "spec.min must not exceed spec.max"
    crd_name = f"widgets.{group}"
    spec_schema = {
        "type": "object",
        "required": ["min", "max"],
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": message}],
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
                }
            ],
        },
    }
    cleanup.add(dev, "customresourcedefinition", crd_name)
    dev.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(crd))
    dev.kubectl("wait", "--for=condition=Established", f"crd/{crd_name}", "--timeout=30s")
    custom = client.CustomObjectsApi(api_client(dev))

    def widget(name: str, low: int, high: int) -> dict[str, object]:
        return {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": {"min": low, "max": high},
        }

    def create_good() -> bool:
        try:
            custom.create_cluster_custom_object(group, "v1", "widgets", widget("good", 1, 2))
        except ApiException as e:
            if e.status == 404:  # Established, but this API server's handler is not serving yet
                return False
            raise
        return True

    wait_until(create_good, what="the new resource to be served")
    with pytest.raises(ApiException) as rejected:
        custom.create_cluster_custom_object(group, "v1", "widgets", widget("bad", 3, 2))

    assert rejected.value.status == 422
    assert message in str(rejected.value.body)


def test_service_account_tokens_are_issued_and_accepted_by_their_own_cluster_only(
    dev: ClusterHandle, prod: ClusterHandle, api_client: ApiClientFactory, cleanup: Cleanup, unique_name: str
) -> None:
    core = client.CoreV1Api(api_client(dev))
    ns = cleanup.namespace(dev, unique_name)
    dev.kubectl("create", "serviceaccount", "robot", "-n", ns)
    bound_token = dev.kubectl("create", "token", "robot", "-n", ns).stdout.strip()
    # A legacy token Secret, filled in by the serviceaccount-token controller.
    secret = client.V1Secret(
        metadata=_meta("robot-token", annotations={"kubernetes.io/service-account.name": "robot"}),
        type="kubernetes.io/service-account-token",
    )
    core.create_namespaced_secret(ns, secret)
    data = wait_until(
        lambda: core.read_namespaced_secret("robot-token", ns).data,
        what="the token controller to fill the Secret",
    )
    legacy_token = base64.b64decode(data["token"]).decode()
    assert base64.b64decode(data["ca.crt"]) == dev.ca_file.read_bytes()

    for token in (bound_token, legacy_token):
        with dev.token_client(token) as api:
            review = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status is not None
        assert review.status.user_info is not None
        assert review.status.user_info.username == f"system:serviceaccount:{ns}:robot"
        # prod's own CA, so TLS succeeds and prod itself judges the token: signed by another key.
        with prod.token_client(token) as api, pytest.raises(ApiException) as refused:
            client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
        assert refused.value.status == 401


def test_clusters_are_isolated(
    control_plane: ControlPlaneHandle,
    dev: ClusterHandle,
    api_client: ApiClientFactory,
    cleanup: Cleanup,
    unique_name: str,
) -> None:
    ns = cleanup.namespace(dev, unique_name)

    assert not is_gone(lambda: client.CoreV1Api(api_client(dev)).read_namespace(ns))
    others = [c for c in control_plane.clusters.values() if c.name != dev.name]
    assert {"host", "prod"} <= {c.name for c in others}
    for other in others:
        core = client.CoreV1Api(api_client(other))
        assert is_gone(functools.partial(core.read_namespace, ns))
    # dev's admin credentials and CA mean nothing to prod.
    crossed = dev.kubectl(f"--server={control_plane['prod'].server}", "get", "namespaces", check=False)
    assert crossed.returncode != 0
    assert "certificate signed by unknown authority" in crossed.stderr


def test_the_api_server_serves_its_request_metrics(dev: ClusterHandle) -> None:
    metrics = dev.kubectl("get", "--raw", "/metrics").stdout

    assert "apiserver_request_total{" in metrics
