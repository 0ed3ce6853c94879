"""The operator is SIGKILLed at random moments, and restarted at once, while 22 domains (each
with a dev and a prod binding) are applied, changed, and some of them deleted.

Pass criteria, after the final restart: every surviving domain and binding is Ready for its
current generation; each member holds exactly the desired set (compared by name: nothing
missing, no orphans of a domain or environment that is not desired, no duplicates); deleted
domains and bindings are gone from the host and cleaned on the members by policy (Delete: the
namespace is deleted; Retain, and Delete in the protected prod: the namespace is released, same
uid, its workload still there). At least 10 kills, 3 of them while deletions are in progress.

Every random choice and timing comes from one seeded generator, drawn before anything starts;
the seed is printed. Replay with BIZDOMAIN_FAULTS_SEED=<seed>.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
from dataclasses import dataclass, field

import pytest

from bizdomain.plan.objects import Key
from support import ClusterHandle, wait_until
from support.platform import MEMBERS, Platform, binding_doc, domain_doc

from .conftest import Faults
from .probes import Stopwatch, difference, expected_tenant, footprint, items, report

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

DOMAINS = 22
MIN_KILLS = 10
MIN_KILLS_WHILE_DELETING = 3
MAX_KILLS = 50
DELETED_DOMAINS = 3
DELETED_BINDINGS = 3  # dev bindings of domains that stay
CHANGED_DOMAINS = 5


@dataclass
class Storm:
    """Everything random about one run, drawn from the seed up front."""

    seed: int
    names: list[str]
    policy: dict[str, str]
    doomed: list[str]  # whole domains deleted
    unbound: list[str]  # dev binding deleted
    changed: list[str]  # quota changed
    batches: list[list[str]]  # domains applied together
    gaps: list[float]  # pauses between the user's steps
    kill_after: list[float]  # seconds the operator lives before each kill

    @classmethod
    def draw(cls, seed: int, prefix: str) -> Storm:
        rng = random.Random(seed)
        names = [f"{prefix}-{i:02d}" for i in range(DOMAINS)]
        policy = {n: rng.choice(["Delete", "Retain"]) for n in names}
        doomed = rng.sample(names, DELETED_DOMAINS)
        rest = [n for n in names if n not in doomed]
        unbound = rng.sample(rest, DELETED_BINDINGS)
        changed = rng.sample(rest, CHANGED_DOMAINS)
        order, batches = rng.sample(names, len(names)), []
        while order:
            size = rng.randint(2, 6)
            batches.append(order[:size])
            order = order[size:]
        gaps = [rng.uniform(0.05, 0.8) for _ in range(200)]
        # Mostly short lives (killed while starting, in the first passes, in a deletion handler),
        # now and then a longer one, so the user's steps always make progress.
        kill_after = [rng.uniform(0.8, 3.5) if rng.random() < 0.8 else rng.uniform(3.5, 8) for _ in range(MAX_KILLS)]
        return cls(seed, names, policy, doomed, unbound, changed, batches, gaps, kill_after)

    def bound(self, env: str) -> list[str]:
        """Domains that keep a binding in ``env``."""
        return [n for n in self.names if n not in self.doomed and not (env == "dev" and n in self.unbound)]

    def expected(self, env: str) -> set[Key]:
        return set().union(*(expected_tenant(n, env) for n in self.bound(env)))

    def unbinding(self) -> list[tuple[str, str]]:
        """(member, namespace) of every tenant the storm deletes."""
        return [(m, n) for n in self.doomed for m in MEMBERS] + [("dev", n) for n in self.unbound]

    def released_in(self, name: str, env: str) -> bool:
        """Whether deleting this tenant keeps its namespace (Retain, or Delete in protected prod)."""
        return env == "prod" or self.policy[name] == "Retain"


@dataclass
class User:
    """The platform engineer's side of the storm, run in a thread while the operator is killed."""

    platform: Platform
    storm: Storm
    deleting: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    workload_uids: dict[tuple[str, str], str] = field(default_factory=dict)  # (member, namespace) -> uid
    _gap: int = 0

    def pause(self) -> None:
        time.sleep(self.storm.gaps[self._gap % len(self.storm.gaps)])
        self._gap += 1

    def run(self) -> None:
        try:
            self._apply_domains()
            self._apply_bindings()
            self._change_domains()
            self._mark_doomed_namespaces()
            self.deleting.set()
            self._delete()
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self.done.set()

    def _apply_domains(self) -> None:
        for batch in self.storm.batches:
            self.platform.apply(*(domain_doc(n, deletionPolicy=self.storm.policy[n]) for n in batch))
            self.pause()

    def _host_namespaces(self) -> set[str]:
        out = self.platform.host.kubectl("get", "ns", "-l", "bizdomain.io/component=host", "-o", "json").stdout
        return {ns["metadata"]["name"] for ns in json.loads(out)["items"]}

    def _apply_bindings(self) -> None:
        """Bind each domain in dev and prod as soon as the operator has made its host namespace."""
        pending = list(self.storm.names)
        deadline = time.monotonic() + 150
        while pending:
            assert time.monotonic() < deadline, f"host namespaces never appeared for {pending}"
            made = self._host_namespaces()
            ready = [n for n in pending if f"domain-{n}" in made]
            if ready:
                self.platform.apply(*(binding_doc(n, env) for n in ready for env in MEMBERS))
                pending = [n for n in pending if n not in ready]
            self.pause()

    def _change_domains(self) -> None:
        for n in self.storm.changed:
            quota = {"requests.cpu": "4", "pods": "33"}
            self.platform.apply(domain_doc(n, deletionPolicy=self.storm.policy[n], quota=quota))
            self.pause()

    def _mark_doomed_namespaces(self) -> None:
        """Put a workload in every namespace about to lose its binding, and remember the uid."""
        for member, name in self.storm.unbinding():
            handle = self.platform.member(member)

            def exists(handle: ClusterHandle = handle, name: str = name) -> str:
                return handle.kubectl("get", "ns", name, "--ignore-not-found", "-o", "name").stdout.strip()

            wait_until(
                exists,
                timeout=150,
                interval=0.5,
                what=f"namespace {name} on {member}",
            )
            handle.kubectl("create", "configmap", "workload", "-n", name, "--from-literal=keep=me")
            ns = json.loads(handle.kubectl("get", "ns", name, "-o", "json").stdout)
            self.workload_uids[(member, name)] = ns["metadata"]["uid"]

    def _delete(self) -> None:
        steps: list[tuple[str, str, str | None]] = [("businessdomain", n, None) for n in self.storm.doomed]
        steps += [("environmentbinding", "dev", f"domain-{n}") for n in self.storm.unbound]
        for kind, name, namespace in steps:
            self.platform.delete(kind, name, namespace, wait=False)
            self.pause()


def remove_storm(platform: Platform, names: list[str]) -> None:
    """Delete what the storm left (domains, then released namespaces on the members)."""
    existing = json.loads(platform.host.kubectl("get", "businessdomains", "-o", "json").stdout)["items"]
    mine = [d["metadata"]["name"] for d in existing if d["metadata"]["name"] in names]
    for name in mine:
        platform.delete("businessdomain", name, wait=False)
    wait_until(
        lambda: not any(platform.get("businessdomain", n) for n in mine), timeout=180, what="storm domains deleted"
    )
    selector = f"bizdomain.io/domain in ({','.join(names)})"
    for member in MEMBERS:
        platform.member(member).kubectl("delete", "ns", "-l", selector, "--wait=false")


def host_settled(platform: Platform, storm: Storm) -> list[str]:
    """What on the host is not yet where it should be (empty when settled)."""
    domains = {d["metadata"]["name"]: d for d in items(platform.host, "businessdomains")}
    bindings = {
        (b["metadata"]["namespace"], b["metadata"]["name"]) for b in items(platform.host, "environmentbindings")
    }
    problems = [f"domain {n} still exists" for n in storm.doomed if n in domains]
    problems += [f"binding {n}/dev still exists" for n in storm.unbound if (f"domain-{n}", "dev") in bindings]
    for name in (n for n in storm.names if n not in storm.doomed):
        domain = domains.get(name)
        if domain is None:
            problems.append(f"domain {name} is missing")
            continue
        cond = platform.condition(domain)
        if cond.get("status") != "True" or cond.get("observedGeneration") != domain["metadata"]["generation"]:
            problems.append(f"domain {name} not Ready for its generation: {cond.get('message')}")
    return problems


def members_settled(platform: Platform, storm: Storm) -> list[str]:
    """What on the members is not yet exactly the desired set, or not cleaned by policy."""
    problems = []
    want = {"requests.cpu": "4", "pods": "33"}
    for env in MEMBERS:
        objects = footprint(platform.member(env), storm.names)
        if diff := difference(objects, storm.expected(env)):
            problems.append(f"{env}: {diff}")
        for name in set(storm.changed) & set(storm.bound(env)):
            quota = objects.get(("ResourceQuota", name, "bizdomain-quota"), {})
            if quota.get("spec", {}).get("hard") != want:
                problems.append(f"{env}: the quota of {name} did not follow its change")
    for member, name in storm.unbinding():
        ns = platform.get("namespace", name, cluster=member)
        if storm.released_in(name, member):
            labels = (ns or {}).get("metadata", {}).get("labels") or {}
            if labels.get("bizdomain.io/released") != "true":
                problems.append(f"{member}: namespace {name} not released: {labels if ns else 'missing'}")
        elif ns is not None:
            problems.append(f"{member}: namespace {name} not deleted (Delete policy)")
    return problems


def test_operator_killed_at_random_converges_exactly(platform: Platform, faults: Faults, unique_name: str) -> None:
    seed = int(os.environ.get("BIZDOMAIN_FAULTS_SEED") or secrets.randbits(32))
    print(f"\nSIGKILL storm seed {seed} (replay with BIZDOMAIN_FAULTS_SEED={seed})")
    storm = Storm.draw(seed, unique_name)
    faults.undo("remove the storm's domains", lambda: remove_storm(platform, storm.names))
    user = User(platform, storm)
    thread = threading.Thread(target=user.run, name="storm-user")

    started = Stopwatch()
    thread.start()
    kills = while_deleting = 0
    while not (user.done.is_set() and kills >= MIN_KILLS and while_deleting >= MIN_KILLS_WHILE_DELETING):
        assert kills < MAX_KILLS, f"seed {seed}: the user's steps did not finish within {MAX_KILLS} kills"
        time.sleep(storm.kill_after[kills])  # how long this operator process lives
        faults.kill_operator()
        kills += 1
        while_deleting += user.deleting.is_set()  # deletions requested, their cleanup pending or running
        if user.error is not None:
            break
    thread.join()
    if user.error is not None:
        raise AssertionError(f"seed {seed}: the user's steps failed") from user.error
    storm_took = started()

    final = Stopwatch()
    host_left: list[str] = []
    member_left: list[str] = []

    def settled() -> bool:
        nonlocal host_left, member_left
        host_left = host_settled(platform, storm)
        member_left = members_settled(platform, storm) if not host_left else ["(host not settled yet)"]
        return not host_left and not member_left

    try:
        wait_until(settled, timeout=180, interval=1, what="convergence after the last restart")
    except AssertionError:
        raise AssertionError(
            f"seed {seed}: not converged 180s after the last of {kills} kills:\n" + "\n".join(host_left + member_left)
        ) from None
    converged_in = final()

    for (member, name), uid in user.workload_uids.items():
        if storm.released_in(name, member):
            ns = platform.require("namespace", name, cluster=member)
            assert ns["metadata"]["uid"] == uid, f"seed {seed}: {member}/{name} was recreated"
            assert platform.get("configmap", "workload", name, cluster=member), f"seed {seed}: workload lost"
    report(
        "operator_sigkill_storm",
        seed=seed,
        domains=DOMAINS,
        kills=kills,
        kills_while_deleting=while_deleting,
        storm_s=storm_took,
        converged_after_last_restart_s=converged_in,
        objects_dev=len(storm.expected("dev")),
        objects_prod=len(storm.expected("prod")),
        deleted_domains=len(storm.doomed),
        deleted_bindings=len(storm.unbound),
    )
