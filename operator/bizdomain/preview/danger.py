"""Which planned changes a reviewer must not miss (pure).

Called by :mod:`bizdomain.preview.changes` for every change of a plan. Three rules, from what
the tenancy model protects:

- anything that prunes, releases or deletes in a protected environment (or on a member serving
  one), and any namespace deletion at all (it takes every workload in it);
- a RoleBinding that grants an ``admin`` role to a subject that did not hold it there;
- in a protected environment, a RoleBinding that gives a subject a role it did not already hold,
  or hold something stronger than, in a namespace that already exists (``viewer`` to ``developer``);
- any change to what was made for an earlier BusinessDomain uid the domain now adopts
  (``bizdomain.io/adopt-uids``): one annotation hands another domain's namespaces over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bizdomain import names

Subject = tuple[str, str, str]  # kind, name, namespace
ADMIN_ROLES = ("admin", "cluster-admin")
# role -> the roles it includes (what `edit` grants includes what `view` and the deployer grant).
INCLUDES = {"admin": {"developer", "viewer", "deployer"}, "developer": {"viewer", "deployer"}}


def short_role(cluster_role: str) -> str:
    return cluster_role.removeprefix(names.ROLE_PREFIX)


def covers(held: str, wanted: str) -> bool:
    """Whether holding ``held`` already gives everything ``wanted`` gives."""
    return held == wanted or wanted in INCLUDES.get(held, set())


def binding_role(name: str, role_ref: str | None) -> str:
    """The short role a RoleBinding of ours grants, from its roleRef, else from its name."""
    if role_ref:
        return short_role(role_ref)
    if name == names.DEPLOYERS_BINDING:
        return "deployer"
    return name.rpartition(":")[2]


def describe(subject: Subject) -> str:
    kind, name, namespace = subject
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def removal(action: str, what: str, environment: str, protected: bool) -> list[str]:
    out = []
    if action == "delete" and what.startswith("Namespace "):
        out.append(f"deletes {what} and every workload in it")
    if protected:
        verb = {"prune": "removes", "release": "releases", "delete": "deletes"}[action]
        out.append(f"{verb} {what} in the protected environment {environment!r}")
    return out


def grant(
    role: str,
    added: Iterable[Subject],
    held: Mapping[Subject, set[str]] | None,
    *,
    environment: str,
    protected: bool,
    namespace: str,
) -> list[str]:
    """``added`` subjects get ``role`` in ``namespace``; ``held``: who held what there before
    (None: the namespace is new)."""
    admins, widened = [], []
    for subject in sorted(added):
        before = (held or {}).get(subject, set())
        if role in ADMIN_ROLES and role not in before:
            admins.append(describe(subject))
        elif protected and held is not None and not any(covers(h, role) for h in before):
            widened.append(f"{describe(subject)} (had {', '.join(sorted(before)) or 'nothing'})")
    out = []
    if admins:
        out.append(f"grants {role} to {', '.join(admins)} in namespace {namespace!r}")
    if widened:
        out.append(
            f"widens rights in the protected environment {environment!r}: {role} in namespace {namespace!r} "
            f"for {', '.join(widened)}"
        )
    return out


def adoption(what: str, domain: str, uid: str) -> str:
    return (
        f"changes {what}, made for another BusinessDomain (uid {uid}): {domain!r} takes it over by adopting "
        f"that uid ({names.ANNOTATION_ADOPT_UIDS})"
    )
