"""The decide step: what one pass does on one member, pure, from the plan and a snapshot of the member.

HNC's ``syncWithForest`` / ``operate`` split: :func:`decide` takes the cluster's plan and what
the member's view holds (every namespace, and every object carrying the operator's labels)
and returns every action of the pass (create, apply, delete, release), each with the tenant
it is for, plus the plan as decided (the namespaces each tenant keeps, the problems found).
The sync engine only carries the actions out. Every ownership and protection rule lives here:

- **A namespace that exists keeps its owner**: the domain (by uid, recorded on the namespace)
  and the environment it was created for. Another tenant's claim never changes, prunes or
  releases it; it reports a conflict that names nobody else. A released namespace is taken
  back only by the same domain uid and environment (or a uid the domain adopts, by a
  platform admin's annotation). A namespace that does not exist goes to the oldest claim.
- **Protection comes from where a namespace is and what it was**: one that belongs to a
  protected environment, sits on a member serving one, or ever carried the protected label
  is never deleted (released instead) and keeps that label.
- **A frozen tenant fails safe**: it creates nothing and grants nothing new; a RoleBinding keeps
  only the subjects both it and the valid part of the binding name (so removed departments,
  members and hand-added subjects lose their rights at once), drift in what restricts
  (network isolation, a deleted quota) is corrected, and nothing else is pruned.
- **What restricts stays with a released namespace**: its ResourceQuota and LimitRange are never
  pruned with it, so the workloads left there stay bounded (budgets, issue 13).
- **Prune only what is ours, by the right policy**: an object is a candidate only when it carries
  a tenant's labels, sits in a namespace of that same tenant, and was made for a domain uid the
  host knows (so a host rebuilt from Git, whose domains have new uids, prunes nothing until a
  platform admin lets the domain adopt the old uid); its living tenant's policy governs, else
  the policy recorded on the namespace.

The package: :mod:`.actions` (what a pass does, and what a view entry says it holds),
:mod:`.ownership` (whose an object is, whether it is protected), :mod:`.decider` (the pass:
every rule above applied to one member). Called by :mod:`bizdomain.sync.engine`, the member
view (:mod:`bizdomain.sync.view`) and :mod:`bizdomain.preview`; unit-tested in
``tests/unit/test_decide.py``.
"""

from bizdomain.decide.actions import IN_SYNC, SUBJECTS, Apply, Decision, Prune, in_sync, subject_keys
from bizdomain.decide.decider import decide
from bizdomain.decide.ownership import tenant_of

__all__ = [
    "IN_SYNC",
    "SUBJECTS",
    "Apply",
    "Decision",
    "Prune",
    "decide",
    "in_sync",
    "subject_keys",
    "tenant_of",
]
