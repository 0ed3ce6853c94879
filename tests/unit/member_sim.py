"""A member cluster in memory, for the pure rules: it carries out a Decision as the engine would.

Creates fail when the name is taken, applies replace what the operator manages, deletes of a
namespace take everything inside it, and releases use the engine's own release body. Tests run
:func:`converge` (plan, decide, carry out) and look at what is left; the real API servers are
for tests/e2e.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from bizdomain.config import Settings
from bizdomain.decide import Decision, decide
from bizdomain.plan import World, plan_cluster
from bizdomain.plan.objects import Key, key_of
from bizdomain.sync.release import READOPT_PATCH, released_patch

JSON = dict[str, Any]
_uids = itertools.count(1)


class Member:
    def __init__(self, name: str) -> None:
        self.name = name
        self.objects: dict[Key, JSON] = {}
        self.deleted: list[JSON] = []  # every namespace deleted, as it was

    def namespaces(self) -> dict[str, JSON]:
        return {k[2]: o for k, o in self.objects.items() if k[0] == "Namespace"}

    def managed(self) -> dict[Key, JSON]:
        return {
            k: o
            for k, o in self.objects.items()
            if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "bizdomain"
        }

    def add(self, body: JSON) -> JSON:
        """An object someone else made (a hand create)."""
        obj = copy.deepcopy(body)
        obj["metadata"]["uid"] = f"u{next(_uids)}"
        self.objects[key_of(obj)] = obj
        return obj

    def carry_out(self, decision: Decision) -> list[str]:
        """Do what ``decision`` says; returns the conflicts a plain create met."""
        conflicts = []
        for action in sorted(decision.applies, key=lambda a: a.desired.namespace is not None):
            key = action.desired.key
            if key[1] is not None and ("Namespace", None, key[1]) not in self.objects:
                continue  # its namespace could not be created
            if action.create and key in self.objects:
                conflicts.append(key[2])
                continue
            body = action.desired.body
            old = self.objects.get(key)
            if old is not None and key[0] == "Namespace":  # an apply keeps what others (and a create) set
                merge(old, READOPT_PATCH)
                meta = old["metadata"]
                body["metadata"]["labels"] = {**(meta.get("labels") or {}), **body["metadata"]["labels"]}
                annotations = {**(meta.get("annotations") or {}), **body["metadata"]["annotations"]}
                body["metadata"]["annotations"] = annotations
            body["metadata"]["uid"] = old["metadata"]["uid"] if old else f"u{next(_uids)}"
            self.objects[key] = body
        for prune in sorted(decision.prunes, key=lambda p: p.key[0] == "Namespace"):
            key = prune.key
            if key not in self.objects:
                continue
            if prune.release:
                merge(self.objects[key], released_patch(self.objects[key]))
            elif key[0] == "Namespace":
                self.deleted.append(self.objects.pop(key))
                for inner in [k for k in self.objects if k[1] == key[2]]:
                    del self.objects[inner]
            else:
                del self.objects[key]
        return conflicts


def merge(obj: JSON, patch: JSON) -> None:
    """A JSON merge patch, in place (None removes a key)."""
    for k, v in patch.items():
        if v is None:
            obj.pop(k, None)
        elif isinstance(v, dict):
            merge(obj.setdefault(k, {}), v)
        else:
            obj[k] = v


def converge(world: World, members: dict[str, Member], settings: Settings, passes: int = 2) -> None:
    """Run ``passes`` full passes on every member."""
    for _ in range(passes):
        for name, member in members.items():
            record = world.members[name]
            plan = plan_cluster(record, world, settings)
            member.carry_out(decide(plan, member.namespaces(), member.managed(), settings))
