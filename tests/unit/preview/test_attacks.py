"""Pull requests crafted so that ``bizdomain plan`` shows something other than what the operator then does.

Each test is an attack from the security review of issue 15: a file a pull request may carry, and what
the API server (and so the operator) makes of it. The plan a reviewer trusts must be the same plan as
for the honest file.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bizdomain import cli
from bizdomain.config import Settings
from bizdomain.members import CredentialsError
from bizdomain.members.clients import _Entry
from bizdomain.preview.live import PlanClients
from bizdomain.preview.load import LoadError, load
from bizdomain.preview.world import HostObjects, changed, target, world

CASES = Path(__file__).parent / "cases"
NEW = CASES / "new-domain" / "change"
ROOT = Path(__file__).parents[3]

PROD_ADMIN = """apiVersion: bizdomain.io/v1alpha1
kind: EnvironmentBinding
metadata:
  name: prod
  namespace: domain-payments
{extra}spec:
  environment: prod
  access:
  - {{department: backend, role: admin}}
"""


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("BIZDOMAIN_") and v != "BIZDOMAIN_BIN_DIR"]:
        monkeypatch.delenv(var)


def _plan(base: Path, change: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    argv = ["plan", "--base", str(base), "-f", str(change), "--color", "never", "--detailed-exitcode"]
    code = cli.main(argv)
    return capsys.readouterr().out.replace(str(change), "CHANGE"), code


def _repo(tmp_path: Path, name: str, binding: str) -> Path:
    """The payments domain bound in dev (the base), and a change that adds ``binding``."""
    root = tmp_path / name
    for side in ("base", "change"):
        (root / side).mkdir(parents=True)
        for file in ("clusters.yaml", "dev.yaml", "domain.yaml"):
            shutil.copy(NEW / file, root / side / file)
    (root / "change" / "prod.yaml").write_text(binding)
    return root


@pytest.mark.parametrize(
    "extra",
    [
        # The API server clears these on create and keeps its own on update: a file cannot set them.
        '  deletionTimestamp: "2020-01-01T00:00:00Z"\n',
        "  deletionGracePeriodSeconds: 0\n",
        '  creationTimestamp: "1970-01-01T00:00:00Z"\n',
        "  uid: 00000000-0000-0000-0000-000000000001\n",
        "  generation: 7\n",
        '  resourceVersion: "1"\n',
    ],
    ids=["deletionTimestamp", "deletionGracePeriodSeconds", "creationTimestamp", "uid", "generation", "rv"],
)
def test_server_assigned_metadata_in_a_file_does_not_change_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str
) -> None:
    """A new prod binding granting admin, marked as being deleted: the plan said "No changes" (exit 0)
    while the API server ignores the mark and the operator grants admin in prod on two clusters."""
    honest = _repo(tmp_path, "honest", PROD_ADMIN.format(extra=""))
    crafted = _repo(tmp_path, "crafted", PROD_ADMIN.format(extra=extra))
    expected, expected_code = _plan(honest / "base", honest / "change", capsys)
    assert "grants admin to Group payments-backend" in expected
    assert expected_code == 2
    assert _plan(crafted / "base", crafted / "change", capsys) == (expected, expected_code)


def test_a_domain_uid_in_a_file_does_not_disown_its_namespaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A uid written into the domain's file made every existing namespace someone else's in the plan
    (NamespaceConflict, nothing granted), while the API server keeps the domain's real uid."""
    root = _repo(tmp_path, "uid", PROD_ADMIN.format(extra=""))
    expected = _plan(root / "base", root / "change", capsys)
    domain = (root / "change" / "domain.yaml").read_text()
    (root / "change" / "domain.yaml").write_text(
        domain.replace("  name: payments\n", "  name: payments\n  uid: x\n", 1)
    )
    assert "uid: x" in (root / "change" / "domain.yaml").read_text()
    assert _plan(root / "base", root / "change", capsys) == expected


def test_status_in_a_file_is_not_read(tmp_path: Path) -> None:
    """A status subresource is never written by an apply of the main resource."""
    path = tmp_path / "d.yaml"
    path.write_text(PROD_ADMIN.format(extra="") + "status: {observedGeneration: 9}\n")
    assert "status" not in load([str(path)]).objects[0]


def test_a_namespace_on_a_cluster_scoped_object_is_ignored_as_the_api_server_ignores_it(tmp_path: Path) -> None:
    """``metadata.namespace`` on a BusinessDomain made the plan treat it as a new object (a new uid
    that owns none of the domain's namespaces) while the API server updates the existing domain."""
    path = tmp_path / "domain.yaml"
    text = (NEW / "domain.yaml").read_text().replace("  name: payments\n", "  name: payments\n  namespace: x\n", 1)
    path.write_text(text)
    loaded = load([str(path)])
    assert "namespace" not in loaded.objects[0]["metadata"]
    live = {**loaded.objects[0], "metadata": {"name": "payments", "uid": "real-uid", "creationTimestamp": "t"}}
    after = world(target(HostObjects.of([live]), loaded.objects, prune=True), Settings())
    assert after.domains["payments"].uid == "real-uid"


def test_the_same_domain_with_and_without_a_namespace_is_a_duplicate(tmp_path: Path) -> None:
    domain = (NEW / "domain.yaml").read_text()
    (tmp_path / "a.yaml").write_text(domain)
    (tmp_path / "b.yaml").write_text(domain.replace("  name: payments\n", "  name: payments\n  namespace: x\n", 1))
    with pytest.raises(LoadError, match="is also in"):
        load([str(tmp_path)])


@pytest.mark.parametrize(
    "text",
    [
        PROD_ADMIN.format(extra="") + "  access:\n  - {department: backend, role: viewer}\n",
        PROD_ADMIN.format(extra="  name: dev\n"),
    ],
    ids=["spec", "metadata"],
)
def test_a_key_written_twice_is_refused(tmp_path: Path, text: str) -> None:
    """kubectl keeps the last of two equal keys, other readers the first (or refuse), a reviewer reads
    the first: the plan refuses the file rather than plan what the reviewer did not read."""
    path = tmp_path / "prod.yaml"
    path.write_text(text)
    with pytest.raises(LoadError, match="written twice"):
        load([str(path)])


def test_a_live_plan_never_runs_a_credential_plugin_from_a_member_secret(tmp_path: Path) -> None:
    """With the operator's opt-in set (the README says to set the plan's settings as the chart does),
    ``plan --live`` on a reviewer's machine ran a plugin named in a member's Secret: whoever may write
    that Secret (the operator's own host identity renews it) ran code next to the reviewer's host
    credentials."""
    marker = tmp_path / "ran"
    plugin = {"apiVersion": "client.authentication.k8s.io/v1", "command": "touch", "args": [str(marker)]}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "m", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": "Q0E="}}],
        "users": [{"name": "m", "user": {"exec": plugin}}],
        "contexts": [{"name": "m", "context": {"cluster": "m", "user": "m"}}],
        "current-context": "m",
    }
    clients = PlanClients(None, Settings(allow_unsafe_kubeconfigs=True))  # type: ignore[arg-type]  # no host read
    with pytest.raises(CredentialsError, match="never runs") as info:
        asyncio.run(clients._client(yaml.safe_dump(config), "prod"))
    assert "'exec'" in str(info.value)
    assert "BIZDOMAIN_ALLOW_UNSAFE_KUBECONFIGS" not in str(info.value)  # it does not apply to the plan
    assert not marker.exists()
    asyncio.run(clients.close())


def test_a_live_plan_never_renews_a_token() -> None:
    """Renewing writes the member's Secret on the host: the plan only reads, whatever it is asked."""
    clients = PlanClients(None, Settings())  # type: ignore[arg-type]  # a renewal would use it, and fail
    kube = object()
    entry = _Entry("1", kube, "text", None, 0.0)  # type: ignore[arg-type]
    assert asyncio.run(clients._renew("prod", "member-prod", "kubeconfig", entry)) is kube


def test_domain_narrowing_says_what_the_files_change_outside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--domain other`` on a pull request that grants admin in payments' prod said "No changes on
    any member." and exit 0: the change was there, only outside the narrowing, and nothing said so."""
    root = _repo(tmp_path, "scope", PROD_ADMIN.format(extra=""))
    argv = ["plan", "--base", str(root / "base"), "-f", str(root / "change"), "--color", "never"]
    code = cli.main([*argv, "--detailed-exitcode", "--domain", "other"])
    out = capsys.readouterr().out
    assert "No changes" not in out
    assert "! the files also change host objects outside --domain: EnvironmentBinding domain-payments/prod" in out
    assert code == 2
    cli.main([*argv, "--domain", "other", "-o", "json"])
    outside = json.loads(capsys.readouterr().out)["host"]["outside"]
    assert outside == [{"kind": "EnvironmentBinding", "namespace": "domain-payments", "name": "prod"}]
    cli.main([*argv, "--domain", "payments", "-o", "json"])
    assert json.loads(capsys.readouterr().out)["host"]["outside"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("  bogus: 1\n", "spec.bogus"),
        ("  access:\n  - {department: backend, role: admin, note: x}\n", "spec.access.0.note"),
    ],
    ids=["spec", "nested"],
)
def test_a_field_the_schema_does_not_know_is_refused(tmp_path: Path, extra: str, field: str) -> None:
    """An unknown field made the plan freeze the binding ("No changes on any member.", exit 0), while the
    API server prunes unknown fields from a stored object (fieldValidation Warn or Ignore) and the
    operator then grants what the rest of the spec says: admin in prod."""
    path = tmp_path / "prod.yaml"
    path.write_text(PROD_ADMIN.format(extra="").replace("  access:\n  - {department: backend, role: admin}\n", extra))
    with pytest.raises(LoadError, match=rf"{field}.*not a field") as info:
        load([str(path)])
    assert str(path) in str(info.value)


def test_the_ci_recipe_prints_each_danger_as_one_workflow_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A danger's text carries names from the pull request: with a newline in one, the recipe's
    "platform review" step printed lines of the owner's choosing to the CI log, and so ran workflow
    commands (``::add-mask::DANGER`` hides the word from the rest of the log). Subject names with
    control characters are now refused at admission and when parsed (below); the recipe escapes
    every danger anyway, as a second wall."""
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed")
    evil = "x\n::add-mask::DANGER\r\n::notice::fine %0A"
    case = CASES / "backend-developer-in-prod" / "base"
    shutil.copytree(case, tmp_path / "base")
    shutil.copytree(case, tmp_path / "change")
    bindings = tmp_path / "change" / "bindings.yaml"
    deployer = "  - {kind: ServiceAccount, name: deployer, namespace: ci}\n"
    added = "  - {kind: ServiceAccount, name: deployer-2, namespace: ci}\n"
    bindings.write_text(bindings.read_text().replace(deployer, deployer + added))
    cli.main(["plan", "--base", str(tmp_path / "base"), "-f", str(tmp_path / "change"), "-o", "json"])
    plan = json.loads(capsys.readouterr().out)
    for cluster in plan["clusters"]:
        for change in cluster["changes"]:
            change["dangers"] = [d.replace("deployer-2", evil) for d in change["dangers"]]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    recipe = yaml.safe_load((ROOT / "examples/gitops/ci/plan-on-pull-request.yaml").read_text())
    step = next(
        s for s in recipe["jobs"]["plan"]["steps"] if s.get("name") == "Dangerous changes need a platform review"
    )
    run = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 1  # dangers fail the step
    out = run.stdout
    lines = out.splitlines()
    assert len(lines) == 4  # the new deployer widens rights in 2 namespaces on 2 prod clusters
    assert all(line.startswith("::error::") for line in lines), lines
    assert any("ci/x%0A::add-mask::DANGER%0D%0A::notice::fine %250A" in line for line in lines)


def test_a_subject_name_with_a_newline_never_reaches_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES / "backend-developer-in-prod" / "base"
    shutil.copytree(case, tmp_path / "base")
    shutil.copytree(case, tmp_path / "change")
    bindings = tmp_path / "change" / "bindings.yaml"
    deployer = "  - {kind: ServiceAccount, name: deployer, namespace: ci}\n"
    added = '  - {kind: User, name: "x\\n::add-mask::DANGER"}\n'
    bindings.write_text(bindings.read_text().replace(deployer, deployer + added))
    code = cli.main(["plan", "--base", str(tmp_path / "base"), "-f", str(tmp_path / "change"), "-o", "json"])
    out = capsys.readouterr().out
    assert "::add-mask::" not in out.replace("\\n", "")
    assert "control characters" in out
    assert code != 0 or '"problems"' in out


@pytest.mark.parametrize("case", ["binding-deleted-delete", "binding-deleted-retain"])
def test_a_domain_removed_with_its_bindings_plans_what_its_finalizers_then_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Removing a domain's file with its bindings' (``--prune``, as Argo CD prunes) planned "No changes
    on any member." (exit 0): the domain was simply gone, so its uid was unknown and nothing of it was
    touched. The API server keeps both, marked for deletion, until the operator's finalizers have
    cleaned every member by policy: namespaces deleted under Delete, released in prod."""
    base = CASES / case / "base"
    shutil.copytree(CASES / case / "change", tmp_path / "bindings-gone")
    (tmp_path / "domain-gone").mkdir()
    shutil.copy(base / "clusters.yaml", tmp_path / "domain-gone" / "clusters.yaml")

    def clusters(change: Path) -> tuple[list[object], int]:
        code = cli.main(
            ["plan", "--base", str(base), "-f", str(change), "--prune", "-o", "json", "--detailed-exitcode"]
        )
        return json.loads(capsys.readouterr().out)["clusters"], code

    expected = clusters(tmp_path / "bindings-gone")
    assert expected[1] == 2
    assert clusters(tmp_path / "domain-gone") == expected


def test_every_member_cluster_removed_from_the_files_plans_as_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request deleting every MemberCluster file planned "No changes" (the base's were kept, as
    if the files never held any), while Argo CD prunes them and the operator stops managing those
    members: nothing is revoked or corrected there any more."""
    base = CASES / "backend-developer-in-prod" / "base"
    shutil.copytree(base, tmp_path / "change")
    (tmp_path / "change" / "clusters.yaml").unlink()
    code = cli.main(["plan", "--base", str(base), "-f", str(tmp_path / "change"), "--prune", "--detailed-exitcode"])
    out = capsys.readouterr().out
    assert out.count("MemberCluster removed") == 3
    assert code == 2


def test_an_error_never_prints_a_control_character_from_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Errors name files and objects, which a pull request chooses: an escape sequence in a name
    (erase the line above, recolor) must be shown escaped on stderr too, as it is in the plan."""
    binding = PROD_ADMIN.format(extra="").replace("  name: prod\n", '  name: "prod\\e[1A\\e[2K"\n', 1)
    (tmp_path / "a.yaml").write_text(binding)
    (tmp_path / "b.yaml").write_text(binding)
    assert cli.main(["plan", "-f", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is also in" in err
    assert "\x1b" not in err
    assert "\\x1b[1A" in err


def test_outside_the_narrowing_a_live_object_the_files_do_not_change_is_not_named() -> None:
    """Against the live host, what the server and kopf added (status, their annotations) is no change."""
    live = yaml.safe_load((NEW / "domain.yaml").read_text())
    live["metadata"] |= {"uid": "u-1", "resourceVersion": "9", "annotations": {"kopf.bizdomain.io/x": "{}"}}
    live["status"] = {"observedGeneration": 1}
    file = yaml.safe_load((NEW / "domain.yaml").read_text())
    base = HostObjects.of([live])
    assert changed(base, target(base, [file], prune=True)) == []
    file["metadata"]["annotations"] = {"bizdomain.io/adopt-uids": "u-0"}
    assert changed(base, target(base, [file], prune=True)) == [("BusinessDomain", "", "payments")]


def test_a_live_plan_leaves_no_key_directory_behind() -> None:
    """Each plan made a private directory for client keys and never removed it: one per run, in /tmp."""
    clients = PlanClients(None, Settings())  # type: ignore[arg-type]  # closing reads nothing
    where = Path(clients._key_dir)
    assert where.is_dir()
    asyncio.run(clients.close())
    assert not where.exists()
