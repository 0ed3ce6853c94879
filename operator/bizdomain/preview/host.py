"""The host side of a plan: read the live host (reads only), and the problems of host objects.

Called by :mod:`bizdomain.preview.command`. :func:`read_host` lists BusinessDomains,
EnvironmentBindings, MemberClusters and the domains' host namespaces with the caller's
kubeconfig. :func:`host_issues` asks the operator's own status code
(:func:`bizdomain.status.binding_status`, :func:`bizdomain.plan.host_namespace_state`) what it
would say about each binding and domain before any member is touched: a binding outside a
domain's namespace, of a domain that does not exist, naming an unknown cluster or one outside
its environment, matching no cluster; a domain whose host namespace is someone else's.
"""

from __future__ import annotations

from typing import Any

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.members import Kube
from bizdomain.plan import World, host_namespace_state
from bizdomain.plan.host import HostNamespace
from bizdomain.plan.placement import place
from bizdomain.preview.model import HostIssue, Issue
from bizdomain.preview.world import HostObjects
from bizdomain.status import binding_status

JSON = dict[str, Any]
# Ready reasons of a binding that say something about the host objects, not about members.
HOST_REASONS = {
    names.Reason.NOT_IN_DOMAIN_NAMESPACE,
    names.Reason.DOMAIN_NOT_FOUND,
    names.Reason.INVALID_SPEC,
    names.Reason.UNKNOWN_CLUSTER,
    names.Reason.CLUSTER_NOT_IN_ENVIRONMENT,
    names.Reason.NO_CLUSTERS,
}


async def read_host(kube: Kube, settings: Settings) -> HostObjects:
    """Every bizdomain object on the host, and the host namespaces named like a domain's."""
    objects: list[JSON] = []
    for kind in (names.KIND_DOMAIN, names.KIND_BINDING, names.KIND_MEMBER):
        objects.extend(await kube.list(kind))
    namespaces = {
        o["metadata"]["name"]: o
        for o in await kube.list("Namespace")
        if o["metadata"]["name"].startswith(settings.domain_namespace_prefix)
    }
    return HostObjects.of(objects, namespaces)


def host_issues(world: World, settings: Settings) -> list[HostIssue]:
    out = []
    for domain in sorted(world.domains.values(), key=lambda d: d.name):
        if domain.error:
            out.append(HostIssue(names.KIND_DOMAIN, None, domain.name, Issue(names.Reason.INVALID_SPEC, domain.error)))
        verdict = host_namespace_state(domain, world, settings)
        if verdict.state is HostNamespace.CONFLICT:
            issue = Issue(names.Reason.HOST_NAMESPACE_CONFLICT, verdict.message)
            out.append(HostIssue(names.KIND_DOMAIN, None, domain.name, issue))
    placement = place(world)
    for key in sorted(world.bindings):
        binding = world.bindings[key]
        ready = binding_status(binding, world, {}, settings, placement).conditions[0]
        if ready.reason in HOST_REASONS:
            out.append(HostIssue(names.KIND_BINDING, key[0], key[1], Issue(ready.reason, ready.message)))
    for name in sorted(world.members):
        member = world.members[name]
        if member.error:
            out.append(HostIssue(names.KIND_MEMBER, None, name, Issue(names.Reason.INVALID_SPEC, member.error)))
    return out
