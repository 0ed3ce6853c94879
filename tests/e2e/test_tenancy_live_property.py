"""A short live run of the tenancy property (tests/unit/test_decide.py) against the real operator.

Two domains' owners (`kubectl --as` each owner on the host) apply a few seeded random sequences of
edits to their dev and prod bindings: cluster names and selectors (also ones naming the other
environment's member), namespace templates that collide (each other's prefix, a bare
`{project}` shared by both), deletion policies, an unknown department now and then (a frozen
binding), and deletes. After each edit, once every binding has settled for its generation, the
real members are checked:

- no namespace seen on prod (or labelled protected) is ever deleted, and the ConfigMap put in it
  at first sight is still there (tracked by uid);
- an existing namespace never changes its owner (`bizdomain.io/domain-uid`, environment);
- every RoleBinding of the domains sits in a namespace of its own tenant and names no subject
  beyond what that tenant's own binding (as last applied) grants;
- no status or Event of one domain's bindings names the other domain.

The seed and every edit are printed; replay one with `-k <seed>`.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from support import wait_until
from support.platform import MEMBERS, MakeDomain, Platform, binding_doc

from .tenancy import DOMAIN_UID, ENVIRONMENT, PRECIOUS, PROTECTED, as_owner, events, listed, owner_delete, stash

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

SEEDS = (51, 152, 282, 46)  # drawn to collide: takeovers by prefix and by a bare {project}, in dev and prod
EDITS = 7
SETTLING = ("Progressing", "Pending")
DEPLOYERS = "bizdomain.io:deployers"
Subject = tuple[str, str, str]
PROD_LABELS = {"matchLabels": {ENVIRONMENT: "prod"}}


@dataclass(frozen=True)
class Edit:
    domain: str
    env: str
    spec: dict[str, Any] | None  # None: the owner deletes the binding

    def __str__(self) -> str:
        return f"{self.domain}/{self.env}: " + ("delete" if self.spec is None else json.dumps(self.spec))


def draw(seed: int, a: str, b: str) -> list[Edit]:
    """The owners' edits, all drawn from ``seed`` up front."""
    rng = random.Random(seed)
    clusters: list[dict[str, Any] | None] = [
        None,
        {"names": ["dev"]},
        {"names": ["prod"]},
        {"names": ["dev", "prod"]},
        {"selector": {"matchLabels": {ENVIRONMENT: "prod"}}},
        {"selector": {"matchLabels": {ENVIRONMENT: "dev"}}},
    ]
    # weighted to collide: a bare {project} is the same name for both (literals are refused at admission)
    templates = ["{project}"] * 4 + ["{domain}-{project}"] * 2 + ["{project}-{environment}"]
    bound: set[tuple[str, str]] = set()
    edits = []
    for _ in range(EDITS):
        domain, env = rng.choice([a, b]), rng.choice(["dev", "dev", "prod"])
        if (domain, env) in bound and rng.random() < 0.25:
            bound.discard((domain, env))
            edits.append(Edit(domain, env, None))
            continue
        access = [{"department": "backend", "role": rng.choice(["viewer", "developer", "admin"])}]
        if rng.random() < 0.5:
            access.append({"department": "sre", "role": "admin"})
        if rng.random() < 0.15:
            access.append({"department": "ghosts", "role": "admin"})  # freezes the binding
        spec: dict[str, Any] = {"access": access, "namespaceTemplate": rng.choice(templates)}
        if (selection := rng.choice(clusters)) is not None:
            spec["clusters"] = selection
        if (policy := rng.choice([None, "Delete", "Retain"])) is not None:
            spec["deletionPolicy"] = policy
        bound.add((domain, env))
        edits.append(Edit(domain, env, spec))
    return edits


def fixed(a: str, b: str) -> list[Edit]:
    """The review's own attack, across domains: the older ``a`` claims ``b``'s prod namespace
    (bare ``{project}``, Delete), re-points its dev binding at prod, then both let go."""
    mine = [{"department": "backend", "role": "admin"}, {"department": "sre", "role": "admin"}]
    bare: dict[str, Any] = {"access": mine, "namespaceTemplate": "{project}"}
    return [
        Edit(b, "prod", {**bare, "access": [{"department": "backend", "role": "viewer"}]}),
        Edit(a, "prod", {**bare, "deletionPolicy": "Delete"}),
        Edit(a, "dev", {**bare, "deletionPolicy": "Delete", "clusters": {"names": ["prod"]}}),
        Edit(a, "dev", {**bare, "deletionPolicy": "Delete", "clusters": {"selector": PROD_LABELS}}),
        Edit(b, "prod", None),
        Edit(a, "prod", None),
        Edit(a, "dev", None),
    ]


def _key(subject: dict[str, Any]) -> Subject:
    return (subject["kind"], subject["name"], subject.get("namespace", ""))


def granted(domain: str, env: str, specs: dict[tuple[str, str], dict[str, Any]], rb: dict[str, Any]) -> set[Subject]:
    """The most the tenant's own binding (as last applied) grants through this RoleBinding."""
    spec = specs.get((domain, env))
    if spec is None:
        return set()
    doc = binding_doc(domain, env, **spec)["spec"]
    if rb["metadata"]["name"] == DEPLOYERS:
        return {_key(s) for s in doc["deployers"]}
    departments = {"backend": f"{domain}-backend", "sre": f"{domain}-sre"}  # domain_doc's
    role = rb["roleRef"]["name"]
    return {
        ("Group", departments[entry["department"]], "")
        for entry in doc["access"]
        if entry["department"] in departments and f"bizdomain.io:{entry['role']}" == role
    }


@dataclass
class Ledger:
    """What the members showed so far: each namespace's first owner, and the protected ones."""

    a: str
    b: str
    project: str
    owners: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # ns uid -> owner
    protected: dict[str, tuple[str, str]] = field(default_factory=dict)  # ns uid -> (cluster, name)

    def check(self, platform: Platform, specs: dict[tuple[str, str], dict[str, Any]], step: str) -> None:
        self.check_members(platform, specs, step)
        self.check_words(platform, step)

    def check_words(self, platform: Platform, step: str) -> None:
        """No status or Event of one domain's bindings names the other (but inside a namespace name
        its owner chose, e.g. by the other's prefix)."""
        for mine, other in ((self.a, self.b), (self.b, self.a)):
            out = platform.host.kubectl("get", "environmentbindings", "-n", f"domain-{mine}", "-o", "json").stdout
            said = [json.dumps(item.get("status") or {}) for item in json.loads(out)["items"]]
            said += events(platform, f"domain-{mine}")
            prefixed = (f"{self.a}-{self.project}", f"{self.b}-{self.project}")
            for text in said:
                bare = text.replace(prefixed[0], "").replace(prefixed[1], "")
                assert other not in bare, f"{step}: domain {mine} is told about {other}: {text}"

    def check_members(self, platform: Platform, specs: dict[tuple[str, str], dict[str, Any]], step: str) -> None:
        selector = f"bizdomain.io/domain in ({self.a},{self.b})"
        for member in MEMBERS:
            namespaces = {ns["metadata"]["name"]: ns for ns in listed(platform, member, "namespaces", selector)}
            for name, ns in namespaces.items():
                meta, labels = ns["metadata"], ns["metadata"].get("labels") or {}
                owner = ((meta.get("annotations") or {}).get(DOMAIN_UID), labels.get(ENVIRONMENT))
                first = self.owners.setdefault(meta["uid"], owner)
                assert first == owner, f"{step}: {member}/{name} changed owner from {first} to {owner}"
                if (member == "prod" or labels.get(PROTECTED) == "true") and meta["uid"] not in self.protected:
                    stash(platform, member, name)
                    self.protected[meta["uid"]] = (member, name)
            for uid, (cluster, name) in self.protected.items():
                if cluster != member:
                    continue
                meta = (namespaces.get(name) or {}).get("metadata") or {}
                assert meta.get("uid") == uid, f"{step}: protected namespace {member}/{name} deleted"
                assert not meta.get("deletionTimestamp"), f"{step}: protected namespace {member}/{name} deleting"
                assert platform.get("configmap", PRECIOUS, name, cluster=member), f"{step}: {name} emptied"
            for rb in listed(platform, member, "rolebindings", selector):
                where = f"{step}: {member} RoleBinding {rb['metadata']['namespace']}/{rb['metadata']['name']}"
                home = namespaces.get(rb["metadata"]["namespace"])
                assert home is not None, f"{where} sits outside the domains' namespaces"
                tenant = tuple((home["metadata"]["labels"] or {}).get(k) for k in ("bizdomain.io/domain", ENVIRONMENT))
                labels = rb["metadata"]["labels"]
                assert (labels["bizdomain.io/domain"], labels[ENVIRONMENT]) == tenant, f"{where} is another tenant's"
                held = {_key(s) for s in rb.get("subjects") or []}
                most = granted(str(tenant[0]), str(tenant[1]), specs, rb)
                assert held <= most, f"{where} grants {held - most} beyond {tenant}'s own binding"


def settled(platform: Platform, domain: str, env: str) -> str | None:
    """The binding's Ready reason once it is settled for its current generation (None: not yet)."""
    obj = platform.get("environmentbinding", env, f"domain-{domain}")
    if obj is None:
        return "deleted"
    cond = platform.condition(obj)
    current = cond.get("observedGeneration") == obj["metadata"].get("generation")
    reason = cond.get("reason")
    return str(reason) if current and reason and reason not in SETTLING else None


@pytest.mark.parametrize("seed", [*SEEDS, "fixed"])
def test_live_owner_edits_never_delete_take_over_or_widen(
    platform: Platform, make_domain: MakeDomain, unique_name: str, seed: int | str
) -> None:
    a, b = f"{unique_name}a", f"{unique_name}b"
    projects = [{"name": f"{unique_name}p"}]  # the same project name in both: templates collide
    make_domain(a, envs=(), projects=projects)
    make_domain(b, envs=(), projects=projects)
    ledger = Ledger(a, b, projects[0]["name"])
    specs: dict[tuple[str, str], dict[str, Any]] = {}
    seen: list[str] = []
    print(f"\nseed {seed}:")
    for i, edit in enumerate(fixed(a, b) if seed == "fixed" else draw(int(seed), a, b)):
        if edit.spec is None:
            owner_delete(platform, edit.domain, edit.env)
            specs.pop((edit.domain, edit.env), None)
        else:
            doc = yaml.safe_dump(binding_doc(edit.domain, edit.env, **edit.spec))
            as_owner(platform, edit.domain, "apply", "-f", "-", input=doc)
            specs[(edit.domain, edit.env)] = edit.spec
        reasons = {
            f"{d}/{env}": wait_until(
                functools.partial(settled, platform, d, env), timeout=90, interval=0.25, what=f"{d}/{env} settled"
            )
            for d, env in sorted(specs)
        }
        print(f"  {i}. {edit} -> {reasons}")
        seen += reasons.values()
        ledger.check(platform, specs, f"seed {seed} edit {i} ({edit})")
    print(f"  namespaces seen: {len(ledger.owners)}, protected: {len(ledger.protected)}, reasons: {sorted(set(seen))}")
