"""The operator's footprint on the host: one namespace per domain for its bindings.

The domain's owners are bound there to the chart's ``bizdomain:domain-owner`` ClusterRole,
so they can edit their own EnvironmentBindings and nobody else's.
"""

from __future__ import annotations

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.plan.inputs import World
from bizdomain.plan.objects import Desired, build


def host_labels(domain: str) -> dict[str, str]:
    return {
        names.LABEL_MANAGED_BY: names.MANAGED_BY_VALUE,
        names.LABEL_COMPONENT: names.COMPONENT_HOST,
        names.LABEL_DOMAIN: domain,
    }


def desired_host(world: World, settings: Settings) -> list[Desired]:
    """Every domain's host namespace and owner RoleBinding (kept while the domain exists)."""
    out: list[Desired] = []
    for domain in sorted(world.domains.values(), key=lambda d: d.name):
        if domain.deleting:
            continue  # its deletion handler removes the namespace once the members are clean
        namespace = settings.domain_namespace(domain.name)
        labels = host_labels(domain.name)
        out.append(build("Namespace", namespace, None, labels, {}))
        if domain.spec is None:
            continue
        content = {
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": names.HOST_OWNER_ROLE,
            },
            "subjects": [o.to_rbac() for o in domain.spec.owners],
        }
        out.append(build("RoleBinding", names.OWNERS_BINDING, namespace, labels, content))
    return out
