"""Where each binding places its domain: the member clusters it selects, decided once per World.

Pure. :func:`selects` is the one rule (a binding lands only on members serving its environment;
names or a selector narrow that set); :func:`plan_cluster` applies it per member, and
:func:`place` records it for every binding at once, for :mod:`bizdomain.status` to report
(``clusters``, ``UnknownCluster``, ``ClusterNotInEnvironment``) without deriving it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bizdomain.plan.inputs import BindingRecord, MemberRecord, World


@dataclass(frozen=True)
class Selection:
    """One binding's placement: the clusters it selects, and the names it lists that it cannot have."""

    clusters: tuple[str, ...] = ()  # sorted
    unknown: tuple[str, ...] = ()  # listed, but no MemberCluster has the name
    foreign: tuple[str, ...] = ()  # listed, exist, but do not serve the binding's environment


@dataclass(frozen=True)
class Placement:
    """Every binding's :class:`Selection`, by binding key, for one World."""

    bindings: Mapping[tuple[str, str], Selection] = field(default_factory=dict)

    def of(self, binding: BindingRecord) -> Selection:
        return self.bindings.get(binding.key, Selection())


def place(world: World) -> Placement:
    """Where every binding of ``world`` places its domain."""
    return Placement(
        {
            key: Selection(
                tuple(binding_clusters(binding, world)),
                tuple(unknown_clusters(binding, world)),
                tuple(foreign_clusters(binding, world)),
            )
            for key, binding in world.bindings.items()
        }
    )


def selects(binding: BindingRecord, member: MemberRecord) -> bool:
    """Whether ``binding`` places its domain on ``member``: only ever a member that serves the
    binding's environment; cluster names or a selector narrow that set, never widen it."""
    if binding.spec is None or member.spec is None:
        return False
    if binding.spec.environment not in member.spec.environments:
        return False
    selection = binding.spec.clusters
    if selection is not None and selection.names is not None:
        return member.name in selection.names
    if selection is not None and selection.selector is not None:
        return selection.selector.matches(member.labels)
    return True


def foreign_clusters(binding: BindingRecord, world: World) -> list[str]:
    """Cluster names a binding lists that exist but do not serve its environment."""
    if binding.spec is None or binding.spec.clusters is None or binding.spec.clusters.names is None:
        return []
    env = binding.spec.environment
    return [
        n
        for n in binding.spec.clusters.names
        if (m := world.members.get(n)) is not None and m.spec is not None and env not in m.spec.environments
    ]


def unknown_clusters(binding: BindingRecord, world: World) -> list[str]:
    """Cluster names a binding lists that no MemberCluster has."""
    if binding.spec is None or binding.spec.clusters is None or binding.spec.clusters.names is None:
        return []
    return [n for n in binding.spec.clusters.names if n not in world.members]


def binding_clusters(binding: BindingRecord, world: World) -> list[str]:
    """The member clusters a binding selects, sorted."""
    return sorted(m.name for m in world.members.values() if not m.deleting and selects(binding, m))
