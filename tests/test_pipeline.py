"""End to end: a digest in, validated modules committed, a report out; re-runs, crashes and broken templates."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.models import Report
from tests.conftest import DATA, ROOT, make_cli

MINI = DATA / "mini.jsonl"
EXPECTED_COMMITTED_FAMILIES = {"mixture-of-experts", "peft-adapter", "distillation", "quantization"}


def committed_ids(repo: Path, check: bool = True) -> list[str]:
    """Every Lit2code-Paper trailer on HEAD, duplicates included (none yet, with check=False, while the
    repository is still being created)."""
    out = subprocess.run(
        ["git", "log", "--format=%(trailers:key=Lit2code-Paper,valueonly)"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=check,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, runtime_python: str):
    """One uninterrupted run of the mini digest: what every other run must match."""
    work = tmp_path_factory.mktemp("baseline")
    cli = make_cli(work)
    started = time.monotonic()
    cli.run("run", str(MINI), "--repo", "repo", "--run-id", "base", "--sandbox", "process")
    first = time.monotonic() - started
    return cli, work / "repo", cli.report("base"), first


def test_report_follows_the_contract(baseline) -> None:
    cli, repo, report, _ = baseline
    Report.model_validate(report)  # every field of the contract, typed
    assert set(report) >= {"run_id", "inputs", "started_at", "finished_at", "planner", "sandbox", "totals", "papers"}
    assert report["finished_at"] is not None
    totals = report["totals"]
    assert totals["papers"] == 6 == len(report["papers"])
    assert sum(totals[k] for k in ("committed", "skipped", "failed", "rejected", "pending")) == 6
    by_title = {p["title"]: p for p in report["papers"]}
    for p in report["papers"]:
        assert p["status"] in {"committed", "skipped", "failed", "rejected", "pending_review"}
        assert set(p["tests"]) >= {"passed", "failed", "errors"}
        assert set(p["llm"]) >= {"calls", "prompt_tokens", "completion_tokens", "cost_usd"}
        assert p["llm"]["calls"] == 0 and p["llm"]["cost_usd"] == 0  # the offline planner asks no model
    # The four method papers are committed under the family they describe; the two studies are skipped.
    committed = {p["family"] for p in report["papers"] if p["status"] == "committed"}
    assert committed == EXPECTED_COMMITTED_FAMILIES
    lazy = by_title["How connectivity structure shapes rich and lazy learning in neural circuits"]
    assert lazy["status"] == "skipped"
    report_paper = by_title["Pre-trained Language Model based Ranking in Baidu Search"]  # a system report
    assert report_paper["status"] == "skipped" and report_paper["reason"]
    for p in report["papers"]:
        if p["status"] == "committed":
            assert p["tests"]["passed"] >= 5 and p["tests"]["failed"] == 0 and p["attempts"] == 1
            assert p["commit"] and {"triage", "plan", "render", "validate", "commit"} <= set(p["timings"])
    assert "committed" in (cli.cwd / "runs" / "base" / "report.md").read_text()


def test_generated_repo_has_commits_trailers_index_and_passing_tests(baseline, runtime_python: str) -> None:
    _, repo, report, _ = baseline
    ids = committed_ids(repo)
    expected = sorted(p["paper_id"] for p in report["papers"] if p["status"] == "committed")
    assert sorted(ids) == expected
    body = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=repo, capture_output=True, text=True).stdout
    assert "Lit2code-Run: base" in body
    assert "Lit2code-Validation: " in body and "passed (process, cpu, " in body
    readme = (repo / "README.md").read_text()
    for pid in expected:
        assert f"`{pid}`" in readme
    for d in (repo / "papers").iterdir():
        if d.is_dir() and d.name != "__pycache__":
            names = {f.name for f in d.iterdir()}
            assert {"__init__.py", "README.md", "plan.json"} <= names
            assert any(n.startswith("test_") and n.endswith(".py") for n in names)
    assert (repo / ".github" / "workflows" / "tests.yml").exists() and (repo / "pyproject.toml").exists()
    # The committed modules' tests pass outside the pipeline too.
    proc = subprocess.run(
        [runtime_python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_rerun_adds_no_commits_and_is_fast(baseline) -> None:
    cli, repo, report, first = baseline
    before = committed_ids(repo)
    started = time.monotonic()
    cli.run("run", str(MINI), "--repo", "repo", "--run-id", "again", "--sandbox", "process")
    second = time.monotonic() - started
    assert committed_ids(repo) == before
    again = cli.report("again")
    assert again["totals"]["committed"] == report["totals"]["committed"]
    assert all(p["attempts"] == 0 for p in again["papers"])  # nothing validated twice
    assert all(p["reason"].startswith("already committed") for p in again["papers"] if p["status"] == "committed")
    print(f"first run {first:.1f}s, second run {second:.1f}s")
    assert second < first


@pytest.mark.parametrize("kill_point", ["checkpoint-created", "first-commit", "second-commit"])
def test_kill_and_resume_gives_the_same_commits(baseline, tmp_path: Path, kill_point: str) -> None:
    _, _, report, _ = baseline
    expected = sorted(p["paper_id"] for p in report["papers"] if p["status"] == "committed")
    cli = make_cli(tmp_path)
    repo = tmp_path / "repo"
    proc = cli.popen(
        "run", str(MINI), "--repo", "repo", "--run-id", "crash", "--sandbox", "process", "--concurrency", "1"
    )
    ckpt = tmp_path / "runs" / "crash" / "checkpoints.sqlite"

    def reached() -> bool:
        if kill_point == "checkpoint-created":
            return ckpt.exists()
        want = 1 if kill_point == "first-commit" else 2
        return (repo / ".git").exists() and len(committed_ids(repo, check=False)) >= want

    deadline = time.monotonic() + 300
    while not reached():
        assert proc.poll() is None, f"run ended before {kill_point}: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, f"{kill_point} not reached in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = cli.run("resume", "crash")
    ids = committed_ids(repo)
    resumed = cli.report("crash")
    rows = "\n".join(f"{p['paper_id']}: {p['status']}: {p['reason'][:300]}" for p in resumed["papers"])
    why = f"resume after a kill at {kill_point}:\n{rows}\nstderr:\n{done.stderr[-3000:]}"
    assert sorted(ids) == expected, why  # same set, and no id twice
    assert resumed["finished_at"] is not None
    assert resumed["totals"]["committed"] == len(expected) and resumed["totals"]["pending"] == 0


@pytest.mark.parametrize("step", [0, 1])
def test_crash_between_a_steps_writes_and_its_checkpoint_is_resumed(baseline, tmp_path: Path, step: int) -> None:
    """Killed after step 0's (the digest read) or step 1's (the papers fanned out) writes were saved and
    before that step's checkpoint: `resume` once took that for a finished run and did nothing."""
    from tests.crash_at_checkpoint import CRASH_EXIT

    _, _, report, _ = baseline
    expected = sorted(p["paper_id"] for p in report["papers"] if p["status"] == "committed")
    cli = make_cli(tmp_path)
    args = ("run", str(MINI), "--repo", "repo", "--run-id", "crash", "--sandbox", "process", "--concurrency", "1")
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.crash_at_checkpoint", str(step), *args],
        cwd=tmp_path,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert crashed.returncode == CRASH_EXIT, crashed.stderr[-2000:]
    assert committed_ids(tmp_path / "repo") == []  # nothing was committed before the crash
    done = cli.run("resume", "crash")
    resumed = cli.report("crash")
    assert sorted(committed_ids(tmp_path / "repo")) == expected, done.stderr[-2000:]
    assert resumed["finished_at"] is not None
    assert resumed["totals"]["papers"] == 6 and resumed["totals"]["pending"] == 0


def test_broken_template_fails_one_paper_and_the_batch_completes(tmp_path: Path, runtime_python: str) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    module = templates / "distillation" / "module.py.j2"
    module.write_text(module.read_text() + "\n{{ plan.no_such_field }}\n")
    cli = make_cli(tmp_path)
    cli.env["LIT2CODE_TEMPLATES"] = str(templates)
    cli.run("run", str(MINI), "--repo", "repo", "--run-id", "broken", "--sandbox", "process")
    report = cli.report("broken")
    failed = [p for p in report["papers"] if p["status"] == "failed"]
    assert [p["family"] for p in failed] == ["distillation"]
    assert "module.py.j2" in failed[0]["reason"] and "no_such_field" in failed[0]["reason"]
    assert report["totals"]["committed"] == 3 and report["totals"]["skipped"] == 2


def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x", "abstract": "y"}\nnot json\n')
    cli = make_cli(tmp_path)
    proc = cli.run("run", str(bad), "--repo", "repo", check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bad.jsonl:2" in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing created for a run that never started
    missing = cli.run("resume", "nope", check=False)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_status_lists_and_shows_runs(baseline) -> None:
    cli, _, report, _ = baseline
    listing = cli.run("status").stdout
    assert "base" in listing
    shown = cli.run("status", "base").stdout
    assert f"{report['totals']['committed']} committed" in shown
    as_json = cli.run("status", "base", "--json").stdout
    assert '"run_id": "base"' in as_json
