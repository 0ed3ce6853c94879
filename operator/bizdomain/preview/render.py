"""The plan for people: grouped by cluster, then tenant; colored on a terminal, plain when piped.

Called by :mod:`bizdomain.preview.command` (``-o text``, the default). Every line a reviewer
must not miss starts with ``!``, so it survives piping into a PR comment without color.
"""

from __future__ import annotations

from collections.abc import Iterator

from bizdomain.preview.model import APPLIES, Change, ClusterResult, PlanResult

SIGNS = {"create": "+", "update": "~", "correct": "~", "prune": "-", "release": "-", "delete": "-"}
LABELS = {
    "create": "create",
    "update": "update",
    "correct": "correct drift",
    "prune": "prune",
    "release": "release",
    "delete": "DELETE",
}
COLORS = {"+": "32", "~": "33", "-": "31", "!": "1;31", "head": "1", "dim": "2", "problem": "35"}


def clean(text: str) -> str:
    """``text`` with every control character shown as an escape: names and messages come from files
    anyone can propose (a subject's name is free text), and must never move the cursor, erase a
    line or recolor one (hiding a DANGER line from the reviewer)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        text = clean(text)
        return f"\033[{COLORS[style]}m{text}\033[0m" if self.color else text


def _change(change: Change, paint: _Paint) -> Iterator[str]:
    sign = SIGNS[change.action]
    yield "    " + paint(sign, f"{sign} {LABELS[change.action]} {change.what}")
    for field in change.fields:
        text = field.text()
        yield "        " + paint(text[0], text)
    for danger in change.dangers:
        yield "      " + paint("!", f"! DANGER: {danger}")


def _cluster(cluster: ClusterResult, paint: _Paint) -> Iterator[str]:
    envs = ", ".join(cluster.environments) or "no environment"
    protected = ", protected" if cluster.protected else ""
    yield paint("head", f"cluster {cluster.cluster} ({envs}{protected})")
    if cluster.error is not None:
        yield "  " + paint("!", f"! ERROR {cluster.error.reason}: {cluster.error.message}")
        yield "  " + paint("!", "! the changes on this cluster are unknown")
        return
    if cluster.status == "removed":
        yield "  " + paint("dim", "MemberCluster removed: the operator stops managing it; nothing there is pruned")
        return
    tenants = {(t.domain, t.environment): t for t in cluster.tenants}
    grouped: dict[tuple[str, str], list[Change]] = {}
    for c in cluster.changes:
        grouped.setdefault((c.domain or "", c.environment or ""), []).append(c)
    keys = sorted({*tenants, *grouped})
    if not keys:
        yield "  " + paint("dim", "no tenants")
    for key in keys:
        tenant = tenants.get(key)
        changes = grouped.get(key, [])
        binding = f"  (binding {tenant.binding}{', frozen' if tenant.frozen else ''})" if tenant else "  (binding gone)"
        yield clean(f"  {key[0]}/{key[1]}{binding}")
        for change in changes:
            yield from _change(change, paint)
        for problem in tenant.problems if tenant else []:
            yield "    " + paint("problem", f"problem {problem.reason}: {problem.message}")
        if tenant is not None:
            summary = f"{tenant.unchanged} unchanged" if changes else f"no changes ({tenant.unchanged} objects in sync)"
            yield "    " + paint("dim", summary)


def render(plan: PlanResult, *, color: bool) -> str:
    paint = _Paint(color)
    lines = [paint("head", f"bizdomain plan ({plan.mode}; compared with {plan.base})"), ""]
    if plan.skipped:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(plan.skipped.items()))
        lines += [paint("dim", f"not read from the files (not bizdomain host objects): {kinds}"), ""]
    for issue in plan.host:
        where = f"{issue.namespace}/{issue.name}" if issue.namespace else issue.name
        lines.append(paint("problem", f"problem {issue.kind} {where}: {issue.issue.reason}: {issue.issue.message}"))
    if plan.host:
        lines.append("")
    for cluster in plan.clusters:
        lines.extend(_cluster(cluster, paint))
        lines.append("")
    counts = plan.counts()
    applies = ", ".join(f"{counts[a]} to {LABELS[a]}" for a in APPLIES)
    removals = ", ".join(f"{counts[a]} to {LABELS[a].lower()}" for a in ("prune", "release", "delete"))
    summary = f"Plan: {applies}; {removals}."
    lines.append(paint("head", summary))
    if counts["dangers"]:
        lines.append(paint("!", f"! {counts['dangers']} dangerous change(s): read the lines marked DANGER"))
    if counts["problems"]:
        lines.append(paint("problem", f"{counts['problems']} problem(s) the operator would report"))
    if plan.outside:
        what = ", ".join(f"{k} {ns}/{n}" if ns else f"{k} {n}" for k, ns, n in plan.outside)
        lines.append(paint("!", f"! the files also change host objects outside --domain: {what} (not planned here)"))
    if counts["errors"]:
        lines.append(paint("!", f"! {counts['errors']} cluster(s) could not be read: the plan is incomplete"))
    if not plan.changed and not counts["errors"]:
        lines.append("No changes: the members match the plan." if plan.mode == "live" else "No changes on any member.")
    return "\n".join(lines) + "\n"
