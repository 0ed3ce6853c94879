"""Read one member the way the operator does, and never write: the live half of ``bizdomain plan``.

Called by :mod:`bizdomain.preview.command` with ``--live``. The member's client comes from its
kubeconfig Secret through the operator's own :class:`~bizdomain.members.MemberClients` (a first
client is never renewed, so the Secret is never written: each member's client is asked for once
per plan, since asking again once its token is due would renew it); the member's objects come from the
operator's own :class:`~bizdomain.sync.view.MemberView`, judged against the plan exactly as a
full pass judges them, listed once and not watched. Like a pass, a member without the
Workspace CRD or bizdomain's ClusterRoles gets nothing. The only requests are GETs: the CRD,
the lists, and each object an update changes (for its field-level diff).

:class:`PlanClients` holds the plan to that whatever the settings say: it never renews a token
(a renewal writes the Secret) and never runs a credential plugin or reads a local file a member's
Secret names, even where the operator is allowed to (``BIZDOMAIN_ALLOW_UNSAFE_KUBECONFIGS``): the
plan runs on a reviewer's machine, next to the reviewer's own host credentials, and whoever may
write that Secret (the operator's host identity renews it) must not run code there.
"""

from __future__ import annotations

from dataclasses import dataclass

from bizdomain import names
from bizdomain.concurrency import each
from bizdomain.config import Settings
from bizdomain.members import CredentialsError, Kube, KubeError, MemberClients
from bizdomain.members.clients import _Entry, kube_from_kubeconfig
from bizdomain.plan import MemberRecord, TenantMemo, World, plan_cluster
from bizdomain.plan.roles import desired_platform_roles, desired_workspace_crd
from bizdomain.preview.model import Issue
from bizdomain.preview.state import JSON, Key, MemberState
from bizdomain.sync.view import MemberView


@dataclass
class Unreadable(Exception):
    """The member's state cannot be known: the plan for it is unknown (exit code 1)."""

    status: str  # unreadable | not-installed
    issue: Issue


class PlanClients(MemberClients):
    """The operator's member clients, read-only and plugin-free (see the module docstring)."""

    async def _client(self, text: str, cluster: str) -> Kube:
        try:
            return await kube_from_kubeconfig(text, cluster, self.settings, safe_only=True)
        except CredentialsError as exc:
            what = str(exc).split(" (credential plugins", 1)[0]  # the operator's opt-in does not apply here
            raise CredentialsError(
                f"{what} (`bizdomain plan` never runs a credential plugin or reads a local file that a member's "
                "Secret names, whatever the operator is allowed)"
            ) from None

    async def _renew(self, cluster: str, secret_name: str, secret_key: str, entry: _Entry) -> Kube:
        return entry.kube  # a renewal writes the Secret: the plan keeps the token it was given


async def member_client(clients: MemberClients, member: MemberRecord, settings: Settings) -> Kube:
    """The member's client, built from its kubeconfig Secret: call once per member and plan."""
    assert member.spec is not None
    ref = member.spec.kubeconfig_secret_ref
    where = f"Secret {settings.namespace}/{ref.name}"
    try:
        return await clients.client(member.name, ref.name, ref.key)
    except CredentialsError as exc:
        raise Unreadable("unreadable", Issue(names.Reason.CREDENTIALS_INVALID, str(exc))) from None
    except KubeError as exc:
        raise Unreadable("unreadable", Issue(names.Reason.SYNC_FAILED, f"cannot read {where}: {exc}")) from None


async def read_member(
    kube: Kube, member: MemberRecord, world: World, settings: Settings, memo: TenantMemo | None = None
) -> MemberState:
    """Everything a full pass of the operator would read on ``member``."""
    plan = plan_cluster(member, world, settings, memo=memo)
    view = MemberView(kube, watch=False)
    view.expect([*plan.platform, *(d for t in plan.tenants.values() for d in t.objects)], replace=True)
    try:
        crd = await kube.get("CustomResourceDefinition", desired_workspace_crd().name)
        await view.relist()
    except KubeError as exc:
        reason = names.Reason.CREDENTIALS_INVALID if exc.status == 401 else names.Reason.CLUSTER_UNREACHABLE
        raise Unreadable("unreadable", Issue(reason, f"cannot read member cluster {member.name!r}: {exc}")) from None
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    missing = [d.name for d in desired_platform_roles() if d.key not in view.managed()]
    if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
        missing.insert(0, f"the Workspace CRD {desired_workspace_crd().name}")
    if missing:
        message = f"{', '.join(missing)} missing: the operator applies nothing there; run `bizdomain join`"
        raise Unreadable("not-installed", Issue(names.Reason.PLATFORM_NOT_INSTALLED, message))
    return MemberState(namespaces=view.namespaces(), live=view.managed(), whole=False)


async def read_bodies(kube: Kube, member: MemberRecord, keys: list[Key], settings: Settings) -> dict[Key, JSON]:
    """The whole objects ``keys`` name (an update's diff needs the fields a view entry drops)."""
    found: dict[Key, JSON] = {}

    async def one(key: Key) -> None:
        obj = await kube.get(key[0], key[2], key[1])
        if obj is not None:
            obj.get("metadata", {}).pop("managedFields", None)
            found[key] = obj

    try:
        await each(keys, one, settings.member_concurrency)
    except KubeError as exc:
        raise Unreadable(
            "unreadable", Issue(names.Reason.CLUSTER_UNREACHABLE, f"cannot read {member.name!r}: {exc}")
        ) from None
    return found
