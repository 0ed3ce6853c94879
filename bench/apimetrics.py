"""API traffic as the API servers count it: ``apiserver_request_total`` and response sizes.

:func:`scrape` reads the counters of one API server (through :class:`bench.cluster.BenchPlane`),
:func:`traffic` turns the difference of two scrapes into reads and writes on the resources the
operator touches, optionally less a baseline window measured with the operator stopped (the
API server's own loops and the controller manager also make requests). Pure apart from
:func:`scrape`; used by :mod:`bench.phases`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# (verb, resource, subresource)
RequestKey = tuple[str, str, str]

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
READ_VERBS = frozenset({"GET", "LIST", "WATCH", "WATCHLIST"})
# What bizdomain reads or writes on each side (anything else is the platform's own traffic).
MEMBER_RESOURCES = frozenset(
    {
        "namespaces",
        "resourcequotas",
        "limitranges",
        "rolebindings",
        "clusterroles",
        "networkpolicies",
        "workspaces",
        "customresourcedefinitions",
    }
)
HOST_RESOURCES = frozenset(
    {"businessdomains", "environmentbindings", "memberclusters", "secrets", "namespaces", "rolebindings", "events"}
)

_SAMPLE = re.compile(r"^(apiserver_request_total|apiserver_response_sizes_sum)\{(.*)\}\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Scrape:
    """One API server's request counts and response bytes, keyed by (verb, resource, subresource)."""

    requests: Counter[RequestKey] = field(default_factory=Counter)
    response_bytes: Counter[RequestKey] = field(default_factory=Counter)


def parse(text: str) -> Scrape:
    out = Scrape()
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match.group(2)))
        if not labels.get("resource"):
            continue  # non-resource requests: /healthz, /metrics, discovery
        key = (labels.get("verb", ""), labels["resource"], labels.get("subresource", ""))
        target = out.requests if match.group(1) == "apiserver_request_total" else out.response_bytes
        target[key] += round(float(match.group(3)))
    return out


def delta(after: Scrape, before: Scrape) -> Scrape:
    return Scrape(
        requests=Counter({k: v - before.requests[k] for k, v in after.requests.items() if v - before.requests[k]}),
        response_bytes=Counter(
            {k: v - before.response_bytes[k] for k, v in after.response_bytes.items() if v - before.response_bytes[k]}
        ),
    )


@dataclass
class Traffic:
    """Requests on the operator's resources over a window, per interval."""

    reads: float = 0.0
    writes: float = 0.0
    lists: float = 0.0
    read_bytes: float = 0.0
    requests: dict[str, float] = field(default_factory=dict)  # "LIST rolebindings" -> per interval

    def add(self, other: Traffic) -> Traffic:
        merged = Counter(self.requests)
        merged.update(other.requests)
        return Traffic(
            self.reads + other.reads,
            self.writes + other.writes,
            self.lists + other.lists,
            self.read_bytes + other.read_bytes,
            dict(sorted(merged.items())),
        )


def traffic(window: Scrape, resources: frozenset[str], intervals: float, baseline: Scrape | None = None) -> Traffic:
    """``window`` (less ``baseline``, never below zero) on ``resources``, divided by ``intervals``."""
    base = baseline or Scrape()
    out = Traffic()
    for key, count in window.requests.items():
        verb, resource, subresource = key
        if resource not in resources:
            continue
        net = max(0, count - base.requests[key])
        if not net:
            continue
        label = f"{verb} {resource}" + (f"/{subresource}" if subresource else "")
        out.requests[label] = out.requests.get(label, 0) + net / intervals
        if verb in WRITE_VERBS:
            out.writes += net / intervals
        elif verb in READ_VERBS:
            out.reads += net / intervals
            out.lists += net / intervals if verb == "LIST" else 0
            out.read_bytes += max(0, window.response_bytes[key] - base.response_bytes[key]) / intervals
    out.requests = dict(sorted(out.requests.items()))
    return out


def raw_writes(window: Scrape, resources: frozenset[str]) -> dict[str, int]:
    """Writes on ``resources`` in a window, without any baseline: what "zero writes" is judged on."""
    out: dict[str, int] = {}
    for (verb, resource, subresource), count in window.requests.items():
        if resource in resources and verb in WRITE_VERBS and count:
            label = f"{verb} {resource}" + (f"/{subresource}" if subresource else "")
            out[label] = out.get(label, 0) + count
    return out
