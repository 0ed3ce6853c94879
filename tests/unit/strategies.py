"""Hypothesis strategies for valid planner inputs: domains, bindings and member clusters.

"Valid" means what the API server admits (the CRD schema and its CEL rules), so the planner's
own guards, not the generator, are what keeps the properties true. Alphabets are small on
purpose: collisions between names (and so between namespaces) are what the properties are about.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bizdomain.plan import BindingRecord, DomainRecord, MemberRecord, World
from unit import factories

ENVIRONMENTS = ("dev", "prod", "qa")
DEPARTMENTS = ("backend", "sre", "qa")
ROLES = ("admin", "developer", "viewer", "deployer", "monitoring-reader")
TIMESTAMPS = ("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z")

# A DNS label from a tiny alphabet: "a", "b1", "a-b", ... (never "--": reserved for sandboxes)
short_names = st.from_regex(r"[ab](-?[ab1]){0,2}", fullmatch=True)
# Domain names start with a letter (a CRD rule on metadata.name).
domain_names = st.from_regex(r"[ab][ab1]{0,2}", fullmatch=True)
quantities = st.sampled_from(["1", "2", "500m", "0.5", "1Gi", "1024Mi", "0"])
quota_maps = st.dictionaries(st.sampled_from(["cpu", "pods", "requests.memory", "limits.cpu"]), quantities, max_size=3)
# Templates the CRD admits: any mix of [a-z0-9-] and placeholders that contains {project}.
_pieces = st.sampled_from(["{project}", "{domain}", "{environment}", "-"])
templates = st.lists(_pieces, min_size=1, max_size=5).map("".join).filter(lambda t: "{project}" in t and "--" not in t)


def _unique(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return list({item[key]: item for item in items}.values())


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, str]:
    kind = draw(st.sampled_from(["User", "Group", "ServiceAccount"]))
    subject = {"kind": kind, "name": draw(short_names)}
    if kind == "ServiceAccount":
        subject["namespace"] = draw(short_names)
    return subject


@st.composite
def domain_specs(draw: st.DrawFn) -> dict[str, Any]:
    departments = [
        {"name": name, "members": draw(st.lists(subjects(), max_size=2))}
        for name in draw(st.lists(st.sampled_from(DEPARTMENTS), unique=True))
    ]
    projects = None
    if draw(st.booleans()):
        projects = _unique(
            [
                {"name": name, **({"environments": envs} if envs is not None else {})}
                for name, envs in draw(
                    st.lists(
                        st.tuples(
                            short_names, st.none() | st.lists(st.sampled_from(ENVIRONMENTS), unique=True, max_size=2)
                        ),
                        max_size=3,
                    )
                )
            ],
            "name",
        )
    spec = factories.domain_spec_dict(
        departments=departments,
        quota=draw(quota_maps),
        networkIsolation=draw(st.booleans()),
        deletionPolicy=draw(st.sampled_from(["Retain", "Delete"])),
    )
    if projects is not None:
        spec["projects"] = projects
    if draw(st.booleans()):
        spec["limits"] = {"default": draw(quota_maps), "max": draw(quota_maps)}
    return spec


@st.composite
def binding_specs(draw: st.DrawFn, environment: str, clusters: list[str]) -> dict[str, Any]:
    access = [
        {"department": department, "role": draw(st.sampled_from(ROLES))}
        for department in draw(st.lists(st.sampled_from(DEPARTMENTS), unique=True))
    ]
    spec: dict[str, Any] = {
        "environment": environment,
        "access": access,
        "deployers": draw(st.lists(subjects(), max_size=2)),
        "quota": draw(quota_maps),
        "namespaceTemplate": draw(templates),
    }
    selection = draw(st.sampled_from(["default", "names", "selector"]))
    if selection == "names":
        spec["clusters"] = {"names": draw(st.lists(st.sampled_from(clusters), unique=True))}
    elif selection == "selector":
        spec["clusters"] = {"selector": {"matchLabels": {"tier": draw(st.sampled_from(["gold", "silver"]))}}}
    if draw(st.booleans()):
        spec["deletionPolicy"] = draw(st.sampled_from(["Retain", "Delete"]))
    return spec


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Up to three domains, each bound to some environments, over three member clusters."""
    members: list[MemberRecord] = [
        factories.member(
            name,
            tuple(draw(st.lists(st.sampled_from(ENVIRONMENTS), unique=True, min_size=1, max_size=2))),
            {"tier": draw(st.sampled_from(["gold", "silver"]))},
        )
        for name in ("c1", "c2", "c3")
    ]
    domains: list[DomainRecord] = []
    bindings: list[BindingRecord] = []
    for name in draw(st.lists(domain_names, unique=True, min_size=1, max_size=3)):
        domains.append(factories.domain(name, draw(domain_specs()), created=draw(st.sampled_from(TIMESTAMPS))))
        for environment in draw(st.lists(st.sampled_from(ENVIRONMENTS), unique=True, max_size=3)):
            spec = draw(binding_specs(environment, [m.name for m in members]))
            bindings.append(
                factories.binding(environment, spec, domain=name, created=draw(st.sampled_from(TIMESTAMPS)))
            )
    return factories.world(domains, bindings, members)
