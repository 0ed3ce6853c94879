"""Admission against the real host API server: the CRD schemas and CEL rules refuse bad objects.

Every object is applied the way a user would (`kubectl apply -f -` with YAML on stdin) to the
host of the local control plane, with bizdomain's CRDs installed and no operator running: what
is refused here is refused by the API server alone, before the operator could ever see it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from bizdomain import names
from bizdomain.plan.compare import contains
from support import Cleanup, ClusterHandle
from unit import factories

pytestmark = pytest.mark.cluster

Manifest = dict[str, Any]
OWNER = {"kind": "User", "name": "alice@example.com"}


def domain(name: str, **spec: Any) -> Manifest:
    """A valid BusinessDomain, with ``spec`` laid over the minimal one."""
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND_DOMAIN,
        "metadata": {"name": name},
        "spec": {"displayName": "Admission test", "owners": [OWNER], **spec},
    }


def binding(namespace: str, environment: str = "dev", *, name: str | None = None, **spec: Any) -> Manifest:
    """A valid EnvironmentBinding in ``namespace``, named after its environment unless ``name`` says otherwise."""
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND_BINDING,
        "metadata": {"name": name or environment, "namespace": namespace},
        "spec": {"environment": environment, **spec},
    }


def member(name: str, **spec: Any) -> Manifest:
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND_MEMBER,
        "metadata": {"name": name},
        "spec": {"kubeconfigSecretRef": {"name": f"member-{name}"}, "environments": ["dev"], **spec},
    }


def apply(host: ClusterHandle, manifest: Manifest, *flags: str) -> tuple[bool, str]:
    """`kubectl apply -f -` with the manifest as YAML on stdin: (accepted, what kubectl printed)."""
    result = host.kubectl("apply", *flags, "-f", "-", input=yaml.safe_dump(manifest), check=False)
    return result.returncode == 0, result.stdout + result.stderr


def get(host: ClusterHandle, manifest: Manifest) -> Manifest:
    meta = manifest["metadata"]
    where = ["-n", meta["namespace"]] if "namespace" in meta else []
    out = host.kubectl("get", *where, f"{manifest['kind'].lower()}.{names.GROUP}", meta["name"], "-o", "json")
    found: Manifest = json.loads(out.stdout)
    return found


def register(cleanup: Cleanup, host: ClusterHandle, manifest: Manifest) -> None:
    """Delete ``manifest`` at the end of the test, should it ever be accepted."""
    meta = manifest["metadata"]
    where = ("-n", meta["namespace"]) if "namespace" in meta else ()
    cleanup.add(host, *where, f"{manifest['kind'].lower()}.{names.GROUP}", meta["name"])


@pytest.fixture
def namespace(host: ClusterHandle, cleanup: Cleanup, unique_name: str, bizdomain_crds: list[str]) -> str:
    """A namespace of this test's own for its EnvironmentBindings, deleted when the test ends."""
    return cleanup.namespace(host, f"{unique_name}-ns")


# --- what admission refuses ----------------------------------------------------------------------


Make = Callable[[str, str], Manifest]


@dataclass(frozen=True)
class Bad:
    """An object the API server must refuse, and a piece of the message it must give."""

    id: str
    make: Make  # (unique name, namespace) -> manifest
    message: str


def sa(name: str, namespace: str | None = None) -> dict[str, str]:
    subject = {"kind": "ServiceAccount", "name": name}
    if namespace:
        subject["namespace"] = namespace
    return subject


def owner_also(*, group: str | None = None, service_account_namespace: str | None = None) -> Make:
    """A domain whose owners are OWNER plus the Group `group` or the ServiceAccount `default` of
    `service_account_namespace`."""
    other = {"kind": "Group", "name": group} if group is not None else sa("default", service_account_namespace)
    return lambda n, ns: domain(n, owners=[OWNER, other])


BAD = [
    # BusinessDomain: metadata.name
    Bad("domain-name-too-long", lambda n, ns: domain(n + "x" * (41 - len(n))), "at most 40 characters"),
    Bad("domain-name-uppercase", lambda n, ns: domain(n.upper()), "a lowercase RFC 1123 subdomain"),
    Bad("domain-name-starts-with-digit", lambda n, ns: domain("1" + n), "starting with a letter"),
    # BusinessDomain: spec
    Bad("display-name-empty", lambda n, ns: domain(n, displayName=""), "spec.displayName in body should be at least 1"),
    Bad("display-name-over-128", lambda n, ns: domain(n, displayName="支" * 129), "spec.displayName: Too long"),
    Bad("no-owners", lambda n, ns: domain(n, owners=[]), "spec.owners in body should have at least 1 items"),
    Bad("owners-missing", lambda n, ns: domain(n) | {"spec": {"displayName": "x"}}, "spec.owners: Required value"),
    Bad(
        "subject-kind-robot",
        lambda n, ns: domain(n, owners=[{"kind": "Robot", "name": "r2d2"}]),
        'Unsupported value: "Robot"',
    ),
    Bad(
        "service-account-without-namespace",
        lambda n, ns: domain(n, owners=[sa("ci")]),
        "namespace is required for a ServiceAccount",
    ),
    Bad(
        "user-with-namespace",
        lambda n, ns: domain(n, owners=[{**OWNER, "namespace": "ci"}]),
        "not allowed for a User or Group",
    ),
    Bad(
        "user-system-admin",
        lambda n, ns: domain(n, owners=[{"kind": "User", "name": "system:admin"}]),
        "a User subject may not name a system: identity",
    ),
    Bad(
        "group-system-masters",
        lambda n, ns: domain(n, owners=[{"kind": "Group", "name": "system:masters"}]),
        "a Group subject may not name a system: group",
    ),
    Bad(
        "department-member-system-authenticated",
        lambda n, ns: domain(
            n, departments=[{"name": "all", "members": [{"kind": "Group", "name": "system:authenticated"}]}]
        ),
        "a Group subject may not name a system: group",
    ),
    # Every system: group, not only the ones that name a whole class of identities.
    *[
        Bad(
            f"owner-group-{group.replace(':', '-')}",
            owner_also(group=group),
            "may not name a system: group",
        )
        for group in ("system:serviceaccounts:ci", "system:monitoring", "system:bootstrappers:kubeadm:node-token")
    ],
    Bad(
        "department-member-system-group",
        lambda n, ns: domain(
            n, departments=[{"name": "ops", "members": [{"kind": "Group", "name": "system:serviceaccounts:kube-x"}]}]
        ),
        "may not name a system: group",
    ),
    Bad(
        "owner-name-with-a-newline",
        lambda n, ns: domain(n, owners=[OWNER, {"kind": "User", "name": "alice\n! DANGER hidden"}]),
        "may not contain control characters",
    ),
    Bad(
        "department-member-name-with-an-escape",
        lambda n, ns: domain(n, departments=[{"name": "ops", "members": [{"kind": "Group", "name": "ops\x1b[2K"}]}]),
        "may not contain control characters",
    ),
    Bad(
        "service-account-name-not-a-dns-name",
        lambda n, ns: domain(n, departments=[{"name": "ops", "members": [sa("CI Bot", "ci")]}]),
        "must be a DNS subdomain",
    ),
    Bad(
        "department-member-system-user",
        lambda n, ns: domain(
            n, departments=[{"name": "ops", "members": [{"kind": "User", "name": "system:kube-controller-manager"}]}]
        ),
        "a User subject may not name a system: identity",
    ),
    # ServiceAccounts of the cluster's own namespaces, or of the operator's.
    *[
        Bad(
            f"owner-service-account-in-{namespace}",
            owner_also(service_account_namespace=namespace),
            "may not be in a kube-* namespace or the operator's namespace (bizdomain-system)",
        )
        for namespace in ("kube-system", "kube-public", "kube-node-lease", "kube-flannel", "bizdomain-system")
    ],
    Bad(
        "department-member-service-account-in-kube-system",
        lambda n, ns: domain(n, departments=[{"name": "ops", "members": [sa("replicaset-controller", "kube-system")]}]),
        "may not be in a kube-* namespace",
    ),
    Bad("quota-negative", lambda n, ns: domain(n, quota={"cpu": -1}), "must be a non-negative Kubernetes quantity"),
    Bad(
        "quota-negative-string",
        lambda n, ns: domain(n, quota={"cpu": "-1"}),
        "must be a non-negative Kubernetes quantity",
    ),
    Bad(
        "quota-malformed",
        lambda n, ns: domain(n, quota={"cpu": "4 cores"}),
        "must be a non-negative Kubernetes quantity",
    ),
    Bad("quota-key-with-spaces", lambda n, ns: domain(n, quota={"requests cpu": "1"}), "keys must be resource names"),
    Bad(
        "limits-malformed",
        lambda n, ns: domain(n, limits={"default": {"memory": "lots"}}),
        "must be a non-negative Kubernetes quantity",
    ),
    Bad(
        "project-named-default",
        lambda n, ns: domain(n, projects=[{"name": "default"}]),
        "a project may not be named default or start with kube-",
    ),
    Bad(
        "project-named-kube-system",
        lambda n, ns: domain(n, projects=[{"name": "kube-system"}]),
        "a project may not be named default or start with kube-",
    ),
    Bad("project-uppercase", lambda n, ns: domain(n, projects=[{"name": "Api"}]), "spec.projects[0].name"),
    Bad("duplicate-projects", lambda n, ns: domain(n, projects=[{"name": "api"}, {"name": "api"}]), "Duplicate value"),
    Bad(
        "duplicate-departments",
        lambda n, ns: domain(n, departments=[{"name": "qa"}, {"name": "qa"}]),
        "Duplicate value",
    ),
    Bad(
        "domain-deletion-policy-destroy",
        lambda n, ns: domain(n, deletionPolicy="Destroy"),
        'Unsupported value: "Destroy"',
    ),
    # EnvironmentBinding
    Bad(
        "role-cluster-admin",
        lambda n, ns: binding(ns, access=[{"department": "sre", "role": "cluster-admin"}]),
        "cluster-admin and system: roles can never be granted",
    ),
    Bad(
        "role-system-foo",
        lambda n, ns: binding(ns, access=[{"department": "sre", "role": "system:foo"}]),
        "cluster-admin and system: roles can never be granted",
    ),
    Bad(
        "duplicate-access-department",
        lambda n, ns: binding(
            ns, access=[{"department": "sre", "role": "admin"}, {"department": "sre", "role": "viewer"}]
        ),
        "Duplicate value",
    ),
    Bad(
        "binding-name-is-not-the-environment",
        lambda n, ns: binding(ns, "dev", name="staging"),
        "metadata.name must equal spec.environment",
    ),
    Bad("environment-uppercase", lambda n, ns: binding(ns, "Dev", name="dev"), "spec.environment in body should match"),
    Bad(
        "template-without-project",
        lambda n, ns: binding(ns, namespaceTemplate="{domain}-{environment}"),
        "namespaceTemplate must contain {project}",
    ),
    Bad(
        "template-unknown-placeholder",
        lambda n, ns: binding(ns, namespaceTemplate="{foo}-{project}"),
        "spec.namespaceTemplate: Invalid value",
    ),
    Bad(
        "clusters-names-and-selector",
        lambda n, ns: binding(ns, clusters={"names": ["dev"], "selector": {"matchLabels": {"tier": "gold"}}}),
        "give cluster names or a selector, not both",
    ),
    Bad(
        "selector-bad-operator",
        lambda n, ns: binding(ns, clusters={"selector": {"matchExpressions": [{"key": "a", "operator": "Maybe"}]}}),
        'Unsupported value: "Maybe"',
    ),
    Bad(
        "binding-deletion-policy-destroy",
        lambda n, ns: binding(ns, deletionPolicy="Destroy"),
        'Unsupported value: "Destroy"',
    ),
    Bad(
        "deployer-service-account-without-namespace",
        lambda n, ns: binding(ns, deployers=[sa("deployer")]),
        "namespace is required for a ServiceAccount",
    ),
    Bad(
        "deployer-service-account-in-kube-system",
        lambda n, ns: binding(ns, deployers=[sa("deployer", "ci"), sa("generic-garbage-collector", "kube-system")]),
        "may not be in a kube-* namespace or the operator's namespace",
    ),
    Bad(
        "deployer-service-account-in-operator-namespace",
        lambda n, ns: binding(ns, deployers=[sa("bizdomain", "bizdomain-system")]),
        "the operator's namespace (bizdomain-system)",
    ),
    Bad(
        "deployer-system-group",
        lambda n, ns: binding(ns, deployers=[{"kind": "Group", "name": "system:serviceaccounts"}]),
        "may not name a system: group",
    ),
    Bad(
        "deployer-system-user",
        lambda n, ns: binding(ns, deployers=[{"kind": "User", "name": "system:serviceaccount:kube-system:default"}]),
        "a User subject may not name a system: identity",
    ),
    Bad(
        "binding-quota-malformed",
        lambda n, ns: binding(ns, quota={"pods": "many"}),
        "must be a non-negative Kubernetes quantity",
    ),
    # MemberCluster
    Bad(
        "member-without-environments",
        lambda n, ns: member(n, environments=[]),
        "spec.environments in body should have at least 1 items",
    ),
    Bad("member-name-starts-with-digit", lambda n, ns: member("1" + n), "a member cluster name is a DNS label"),
    Bad(
        "member-without-secret",
        lambda n, ns: member(n) | {"spec": {"environments": ["dev"]}},
        "spec.kubeconfigSecretRef: Required value",
    ),
]


def test_there_are_enough_bad_objects() -> None:
    assert len(BAD) >= 20
    assert len({case.id for case in BAD}) == len(BAD)


@pytest.mark.usefixtures("bizdomain_crds")
@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in BAD])
def test_bad_object_is_refused(
    case: Bad, host: ClusterHandle, cleanup: Cleanup, unique_name: str, request: pytest.FixtureRequest
) -> None:
    namespaced = case.make(unique_name, "placeholder")["kind"] == names.KIND_BINDING
    manifest = case.make(unique_name, request.getfixturevalue("namespace") if namespaced else "")
    register(cleanup, host, manifest)

    accepted, output = apply(host, manifest)

    assert not accepted, f"the API server accepted {case.id}:\n{yaml.safe_dump(manifest)}"
    assert case.message in output
    assert "Error from server" in output or "is invalid" in output, "refused by the server, not by kubectl"


# --- unknown fields ------------------------------------------------------------------------------


def test_unknown_spec_field_is_refused_under_strict_field_validation(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str, bizdomain_crds: list[str]
) -> None:
    manifest = domain(unique_name, colour="blue")
    register(cleanup, host, manifest)

    accepted, output = apply(host, manifest)  # kubectl's default is --validate=strict

    assert not accepted
    assert 'unknown field "spec.colour"' in output


def test_unknown_spec_field_is_pruned_when_validation_is_off(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str, bizdomain_crds: list[str]
) -> None:
    manifest = domain(unique_name, colour="blue", owners=[OWNER, {"kind": "Group", "name": "g", "shoeSize": 42}])
    register(cleanup, host, manifest)

    accepted, output = apply(host, manifest, "--validate=false")

    assert accepted, output
    stored = get(host, manifest)["spec"]
    assert "colour" not in stored, "a structural schema prunes unknown fields"
    assert stored["owners"] == [OWNER, {"kind": "Group", "name": "g"}]


# --- immutability --------------------------------------------------------------------------------


def test_environment_of_an_existing_binding_cannot_change(host: ClusterHandle, namespace: str) -> None:
    original = binding(namespace, "dev", access=[{"department": "sre", "role": "admin"}])
    accepted, output = apply(host, original)
    assert accepted, output

    changed = copy.deepcopy(original)
    changed["spec"]["environment"] = "qa"
    accepted, output = apply(host, changed)

    assert not accepted
    assert "environment is immutable: create a new binding instead" in output
    assert get(host, original)["spec"]["environment"] == "dev"


def test_other_fields_of_an_existing_binding_can_change(host: ClusterHandle, namespace: str) -> None:
    original = binding(namespace, "dev", access=[{"department": "sre", "role": "admin"}])
    assert apply(host, original)[0]

    changed = copy.deepcopy(original)
    changed["spec"]["access"][0]["role"] = "viewer"
    changed["spec"]["quota"] = {"pods": "10"}
    accepted, output = apply(host, changed)

    assert accepted, output
    stored = get(host, original)
    assert stored["spec"]["access"] == [{"department": "sre", "role": "viewer"}]
    assert stored["metadata"]["generation"] == 2


# --- what admission accepts ----------------------------------------------------------------------


def renamed(doc: Manifest, unique_name: str, namespace: str) -> Manifest:
    """An example, made this test's own: cluster-scoped objects renamed, bindings in our namespace."""
    doc = copy.deepcopy(doc)
    if doc["kind"] == names.KIND_BINDING:
        doc["metadata"]["namespace"] = namespace
    else:
        doc["metadata"]["name"] = f"{unique_name}-{doc['metadata']['name']}"
    return doc


def example_params() -> list[Any]:
    return [
        pytest.param(doc, id=f"{kind}/{doc['metadata']['name']}")
        for kind in (names.KIND_DOMAIN, names.KIND_BINDING, names.KIND_MEMBER)
        for doc in factories.example_docs(kind)
    ]


@pytest.mark.parametrize("example", example_params())
def test_examples_are_accepted_and_stored_as_written(
    example: Manifest, host: ClusterHandle, cleanup: Cleanup, unique_name: str, namespace: str
) -> None:
    manifest = renamed(example, unique_name, namespace)
    register(cleanup, host, manifest)

    accepted, output = apply(host, manifest)

    assert accepted, output
    stored = get(host, manifest)
    assert contains(example["spec"], stored["spec"]), "defaults may be added, nothing is lost or changed"


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param(lambda n, ns: domain(n), id="minimal-domain"),
        pytest.param(lambda n, ns: domain(n[:1] + "x" * 39), id="domain-name-of-40"),
        pytest.param(
            lambda n, ns: domain(n, quota={"pods": 10, "cpu": "0", "requests.memory": "1.5Gi"}),
            id="quota-int-zero-and-decimal",
        ),
        pytest.param(
            lambda n, ns: domain(
                n,
                owners=[sa("gitops", "flux-system"), sa("kube-deployer", "kubeflow"), {"kind": "Group", "name": "ops"}],
            ),
            id="service-accounts-outside-kube-namespaces-and-a-group",
        ),
        pytest.param(
            lambda n, ns: binding(
                ns,
                "dev",
                namespaceTemplate="{domain}-{project}-{environment}",
                clusters={"selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}},
            ),
            id="binding-template-and-selector",
        ),
        pytest.param(lambda n, ns: member(n, environments=["dev", "prod"]), id="member-two-environments"),
    ],
)
def test_good_objects_are_accepted(
    manifest: Callable[[str, str], Manifest], host: ClusterHandle, cleanup: Cleanup, unique_name: str, namespace: str
) -> None:
    made = manifest(unique_name, namespace)
    register(cleanup, host, made)
    accepted, output = apply(host, made)
    assert accepted, output


def test_kubectl_get_domains_uses_the_short_name_and_columns(
    host: ClusterHandle, cleanup: Cleanup, unique_name: str, bizdomain_crds: list[str]
) -> None:
    manifest = domain(unique_name, displayName="支付平台")
    register(cleanup, host, manifest)
    assert apply(host, manifest)[0]

    for short in ("domain", "domains", "bd"):
        out = host.kubectl("get", short, unique_name).stdout
        header, row = out.splitlines()[:2]
        assert header.split()[:2] == ["NAME", "DISPLAY"]
        assert row.split()[:2] == [unique_name, "支付平台"]
