"""Reviews: the terminal app driven headless through every action, the app in a real terminal (tmux),
a kill during a review, the scripting flags, stale and unknown answers, edits and feedback.

Runs use the real graph, the offline planner and the process sandbox on tests/data/mini.jsonl: four
method papers (mixture-of-experts, peft-adapter, distillation, quantization) and two skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.families import load_families
from agent.models import Paper, ReviewAnswer, ReviewRequest, RunConfig, Triage
from agent.planners import feedback
from agent.planners.offline import OfflinePlanner
from agent.review_app.app import EditErrors, ReviewApp, TextPrompt
from agent.workflow import reviews, runs
from tests.conftest import CLI, DATA, make_cli

MINI = DATA / "mini.jsonl"
REVIEWER = "Ada Reviewer"
FAMILIES = ("mixture-of-experts", "peft-adapter", "distillation", "quantization")

EDITOR = """\
import json, os, re, sys
spec = json.load(open(os.environ["LIT2CODE_TEST_EDIT"]))
path = sys.argv[1]
text = open(path).read()
open(path, "w").write(re.sub(spec["pattern"], spec["repl"], text, count=1, flags=re.M))
with open(spec["log"], "a") as log:
    log.write(os.path.basename(path) + "\\n")
"""


def _commits(repo: str | Path) -> list[str]:
    out = subprocess.run(
        ["git", "log", "--format=%H%x00%B%x1e"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    return [r.strip() for r in out.split("\x1e") if r.strip()]


def _by_family(items: list[reviews.PendingReview]) -> dict[str, reviews.PendingReview]:
    return {i.request.plan.family: i for i in items}


@pytest.fixture
def paused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime_python: str) -> RunConfig:
    """An --interactive run (started by the test: `await runs.execute(config)` pauses it at four plan reviews)."""
    monkeypatch.setenv("LIT2CODE_RUNS_DIR", str(tmp_path / "runs"))
    cfg = RunConfig(
        run_id="rv", inputs=[str(MINI)], repo=str(tmp_path / "repo"), sandbox="process", concurrency=2, interactive=True
    )
    runs.save_config(cfg)
    return cfg


# ---- the app, headless ---------------------------------------------------------------------------
class Editor:
    """$EDITOR for the tests: a script that applies one regex replacement to the file it is given."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.script, self.spec, self.log = tmp / "editor.py", tmp / "edit.json", tmp / "edits.log"
        self.script.write_text(EDITOR)
        monkeypatch.setenv("LIT2CODE_TEST_EDIT", str(self.spec))
        self.command = f"{sys.executable} {self.script}"

    def will(self, pattern: str, repl: str) -> None:
        self.spec.write_text(json.dumps({"pattern": pattern, "repl": repl, "log": str(self.log)}))

    def opened(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []


async def _settle(pilot, app: ReviewApp) -> None:
    """Wait until the run has taken every answer sent (bounded, so a hang fails instead of blocking)."""
    await pilot.pause()
    deadline = time.monotonic() + 300
    while app.busy:
        assert time.monotonic() < deadline, f"the run did not take the answers: {app.messages[-3:]}"
        await pilot.pause(0.2)
    await pilot.pause()


async def _select(pilot, app: ReviewApp, family: str, stage: str) -> reviews.PendingReview:
    """Move the list's highlight with the keys until the item of `family` at `stage` is shown."""
    for _ in range(len(app.items)):
        await pilot.press("up")
    for _ in range(len(app.items)):
        cur = app.current()
        if cur and cur.request.plan.family == family and cur.stage == stage:
            return cur
        await pilot.press("down")
    raise AssertionError(f"no {stage} review of {family} in {[(i.stage, i.request.plan.family) for i in app.items]}")


async def _type(pilot, text: str) -> None:
    await pilot.press(*text)
    await pilot.press("enter")


async def test_app_through_every_action(paused: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = paused
    await runs.execute(config)
    editor = Editor(tmp_path, monkeypatch)
    app = ReviewApp(config, who=REVIEWER, editor=editor.command)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        assert sorted(i.request.plan.family for i in app.items) == sorted(FAMILIES)
        assert {i.stage for i in app.items} == {"plan"}

        # feedback on the peft plan: structured clauses applied, the rest said plainly
        peft_plan = await _select(pilot, app, "peft-adapter", "plan")
        await pilot.press("f")
        assert isinstance(app.screen, TextPrompt)
        await _type(pilot, "rank=16; option rank_gate on; please be careful")

        # reject the quantization plan with a reason
        await _select(pilot, app, "quantization", "plan")
        await pilot.press("r")
        await _type(pilot, "not novel enough")

        # an invalid plan edit: errors shown, nothing applied; abandoned, then edited again until valid
        distill = await _select(pilot, app, "distillation", "plan")
        editor.will(r"^(\s*temperature:).*$", r"\1 hot")
        await pilot.press("e")
        assert isinstance(app.screen, EditErrors)
        assert any("temperature" in e for e in app.screen.errors), app.screen.errors
        await pilot.press("escape")
        assert "abandoned" in app.messages[-1] and distill.interrupt_id not in app.sent
        await pilot.press("e")
        assert isinstance(app.screen, EditErrors)
        editor.will(r"^(\s*temperature:).*$", r"\1 2.5")
        await pilot.press("e")  # edit again: the editor re-opens with the errors on top
        assert not isinstance(app.screen, EditErrors)
        assert app.sent.get(distill.interrupt_id) == "edit"
        assert editor.opened() == ["edit.yaml"] * 3

        # skip the moe plan: it stays pending
        moe_plan = await _select(pilot, app, "mixture-of-experts", "plan")
        await pilot.press("s")
        assert moe_plan.interrupt_id not in app.sent and "stays pending" in app.messages[-1]
        await _settle(pilot, app)

        items = _by_family(app.items)
        assert sorted((i.request.plan.family, i.stage) for i in app.items) == [
            ("distillation", "result"),
            ("mixture-of-experts", "plan"),
            ("peft-adapter", "plan"),
        ]
        assert items["mixture-of-experts"].interrupt_id == moe_plan.interrupt_id  # skipped: the same item
        replanned = items["peft-adapter"].request.plan
        assert items["peft-adapter"].interrupt_id != peft_plan.interrupt_id  # asked again, a new item
        assert replanned.hyperparameters["rank"] == 16 and "rank_gate" in replanned.options
        assert "applied: rank=16" in replanned.review_notes
        assert any(n.startswith("not applied: 'please be careful'") for n in replanned.review_notes)
        assert items["distillation"].request.plan.hyperparameters["temperature"] == 2.5
        assert items["distillation"].request.validation.ok

        await _select(pilot, app, "peft-adapter", "plan")
        await pilot.press("a")
        await _select(pilot, app, "mixture-of-experts", "plan")
        await pilot.press("a")
        await _settle(pilot, app)
        assert {i.stage for i in app.items} == {"result"} and len(app.items) == 3

        # result edits: one breaks the tests, one adds a passing test; both are validated again
        await _select(pilot, app, "distillation", "result")
        await pilot.press("m")
        editor.will(r"return kl \* temperature\*\*2", "return kl * temperature")
        await pilot.press("e")
        await _select(pilot, app, "mixture-of-experts", "result")
        await pilot.press("t")
        editor.will(r"\Z", "\n\ndef test_added_by_the_reviewer():\n    assert True\n")
        await pilot.press("e")
        assert editor.opened()[-2:] == ["edit-dcd.py", "edit-test_smora.py"]
        await _settle(pilot, app)

        items = _by_family(app.items)
        broken = items["distillation"]
        assert broken.request.validation.attempt == 2 and not broken.request.validation.ok
        assert broken.request.validation.error and "FAILED" in broken.request.validation.error
        assert "-    return kl * temperature**2" in reviews.diff(broken)
        await _select(pilot, app, "distillation", "result")
        await pilot.press("a")  # a failing result cannot be approved
        assert "its tests fail" in app.messages[-1] and broken.interrupt_id not in app.sent
        await pilot.press("r")
        await _type(pilot, "the edit broke it")
        added = items["mixture-of-experts"]
        assert added.request.validation.ok and added.request.validation.tests.passed >= 1
        assert "+def test_added_by_the_reviewer():" in reviews.diff(added)
        assert added.request.validation.mode != "warm"  # reviewer-edited code: never a reused warm worker
        await _select(pilot, app, "peft-adapter", "result")
        await pilot.press("a")
        await _settle(pilot, app)
        # quit: the moe result, unanswered, stays pending
        await pilot.press("q")
    summary = app.return_value
    assert summary is not None and summary.pending == 1
    left = await reviews.pending(config)
    assert [(i.request.plan.family, i.stage) for i in left] == [("mixture-of-experts", "result")]
    assert left[0].interrupt_id == added.interrupt_id

    # a second session sees the same item; approve all passing results, then quit
    app = ReviewApp(config, who=REVIEWER, editor=editor.command)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        assert [i.interrupt_id for i in app.items] == [added.interrupt_id]
        await pilot.press("A")
        await _settle(pilot, app)
        assert app.items == []
        await pilot.press("q")

    report = json.loads((runs.run_dir(config.run_id) / "report.json").read_text())
    rows = {p["family"]: p for p in report["papers"] if p["family"]}
    assert report["totals"] == {
        "papers": 6, "committed": 2, "skipped": 2, "failed": 0, "rejected": 2, "pending": 0
    }  # fmt: skip
    assert report["finished_at"] is not None
    quant, distill_row, peft, moe = (
        rows[f] for f in ("quantization", "distillation", "peft-adapter", "mixture-of-experts")
    )
    assert quant["status"] == "rejected" and quant["reason"] == "not novel enough"
    assert [(d["stage"], d["action"], d["reviewer"]) for d in quant["reviews"]] == [("plan", "reject", REVIEWER)]
    assert distill_row["status"] == "rejected" and distill_row["reason"] == "the edit broke it"
    assert [(d["stage"], d["action"]) for d in distill_row["reviews"]] == [
        ("plan", "edit"),
        ("result", "edit"),
        ("result", "reject"),
    ]
    assert "temperature 4.0 -> 2.5" in distill_row["reviews"][0]["note"]
    assert distill_row["reviews"][1]["files"] == ["dcd.py"] and distill_row["attempts"] == 2
    assert all(d["at"] for d in distill_row["reviews"])
    assert [(d["stage"], d["action"]) for d in peft["reviews"]] == [
        ("plan", "feedback"),
        ("plan", "approve"),
        ("result", "approve"),
    ]
    assert "applied: rank=16" in peft["reviews"][0]["note"]
    assert [(d["stage"], d["action"]) for d in moe["reviews"]] == [
        ("plan", "approve"),
        ("result", "edit"),
        ("result", "approve"),
    ]

    repo = Path(config.repo)
    plans = {json.loads(p.read_text())["family"]: json.loads(p.read_text()) for p in repo.glob("papers/*/plan.json")}
    assert set(plans) == {"peft-adapter", "mixture-of-experts"}  # the rejected ones are not committed
    assert plans["peft-adapter"]["hyperparameters"]["rank"] == 16 and "rank_gate" in plans["peft-adapter"]["options"]
    assert plans["peft-adapter"]["edited_by"] is None
    assert plans["mixture-of-experts"]["edited_by"] == REVIEWER
    assert "def test_added_by_the_reviewer" in next(repo.glob("papers/smora_*/test_smora.py")).read_text()
    assert "edited this plan or its code" in next(repo.glob("papers/smora_*/README.md")).read_text()
    commits = _commits(repo)
    assert len(commits) == 3  # the skeleton and two papers
    trailers = [line for c in commits for line in c.splitlines() if line.startswith("Lit2code-Reviewed-by:")]
    assert sorted(trailers) == [
        f"Lit2code-Reviewed-by: {REVIEWER} (plan approve, result edit, result approve)",
        f"Lit2code-Reviewed-by: {REVIEWER} (plan feedback, plan approve, result approve)",
    ]
    md = (runs.run_dir(config.run_id) / "report.md").read_text()
    assert "## Review decisions" in md and f"plan reject by {REVIEWER}" in md and ": not novel enough" in md


# ---- edits and feedback, without a run -----------------------------------------------------------
def _plan_item(title: str, abstract: str) -> reviews.PendingReview:
    paper = Paper(paper_id="p-1", title=title, abstract=abstract)
    fams = load_families()
    planner = OfflinePlanner()
    triage = planner.triage(paper, fams)
    plan = planner.plan(paper, triage, fams[triage.family])
    req = ReviewRequest(kind="plan", paper_id="p-1", title=title, plan=plan, abstract=abstract)
    return reviews.PendingReview("iid-1", req)


LORA = (
    "SoRA: Sparse Low-rank Adaptation",
    "We propose SoRA, a low-rank adaptation (LoRA) method with a gate unit for each rank, for fine-tuning "
    "pre-trained language models with a rank of 8.",
)


def test_invalid_plan_edits_list_every_problem_and_apply_nothing() -> None:
    item = _plan_item(*LORA)
    text = reviews.plan_yaml(item)
    assert text.startswith("# The plan of p-1") and "peft-adapter parameters: rank (int" in text
    assert reviews.plan_from_yaml(item, text) is None  # unchanged: abandoned
    assert reviews.plan_from_yaml(item, "") is None
    bad = {
        "rank: [": "not YAML",
        "- a\n- b\n": "must be a mapping",
        "hyperparameters: {rank: 0}": "hyperparameters.rank: 0 is outside 1..",
        "hyperparameters: {rank: many}": "hyperparameters.rank: 'many' is not a int",
        "hyperparameters: {depth: 3}": "has no such parameter",
        "options: [turbo]": "has no option 'turbo'",
        "module_name: 'not a name'": "is not a Python identifier",
        "family: gardening": "is not a family",
        "paper_id: other": "paper_id: not an editable field",
        "confidence: 2": "confidence: not an editable field",
        "method_name: [1, 2]": "method_name: Input should be a valid string",
    }
    for edit, why in bad.items():
        with pytest.raises(reviews.PlanEditError) as exc:
            reviews.plan_from_yaml(item, edit)
        assert any(why in e for e in exc.value.errors), (edit, exc.value.errors)
    plan = reviews.plan_from_yaml(item, text.replace("rank: 8", "rank: 32"))
    assert plan is not None and plan.hyperparameters["rank"] == 32 and plan.inferred["rank"] == "reviewer edit"
    answer = reviews.edit_plan(item, text.replace("rank: 8", "rank: 32"))
    assert answer is not None and answer.stage == "plan" and answer.interrupt_id == "iid-1"


def test_offline_feedback_applies_structured_clauses_and_names_the_rest() -> None:
    fams = load_families()
    paper = Paper(paper_id="p-1", title=LORA[0], abstract=LORA[1])
    planner = OfflinePlanner()
    triage = Triage(family="peft-adapter", reason="test", confidence=0.9)
    plan = planner.plan(
        paper,
        triage,
        fams["peft-adapter"],
        "rank=16, option rank_gate off; option dropout on\nname FlexLoRA; alpha = 99999; depth=3; family pruning; "
        "option turbo on; make it faster",
    )
    assert plan.hyperparameters["rank"] == 16 and plan.inferred["rank"] == "reviewer feedback: 'rank=16'"
    assert plan.options == ["dropout"]
    assert (plan.method_name, plan.module_name, plan.class_name) == ("FlexLoRA", "flexlora", "FlexLoRA")
    notes = plan.review_notes
    assert "applied: rank=16" in notes and "applied: option rank_gate off" in notes
    assert any(n.startswith("not applied: 'alpha = 99999'") and "outside" in n for n in notes)
    assert any(n.startswith("not applied: 'depth=3'") and "no parameter 'depth'" in n for n in notes)
    assert any("family 'pruning'" in n for n in notes)  # the graph switches families; this call did not
    assert any(n.startswith("not applied: 'option turbo on'") for n in notes)
    assert any(n.startswith("not applied: 'make it faster'") and "reads only" in n for n in notes)
    # under the family the feedback names, its switch is applied
    pruned = planner.plan(paper, triage, fams["pruning"], "family pruning")
    assert pruned.family == "pruning" and pruned.review_notes == ["applied: family pruning"]
    assert feedback.parse("set rank 4").params == [("rank", "4", "set rank 4")]
    assert planner.plan(paper, triage, fams["peft-adapter"]).review_notes == []


def test_answers_are_checked_against_the_item_they_answer() -> None:
    item = _plan_item(*LORA)
    ok = reviews.check_answer(item, ReviewAnswer(action="approve"))
    assert (ok.stage, ok.interrupt_id) == ("plan", "iid-1")
    refusals = [
        (ReviewAnswer(action="approve", interrupt_id="another"), "no longer pending"),
        (ReviewAnswer(action="approve", stage="result"), "its result review is not pending"),
        (ReviewAnswer(action="feedback", feedback="  "), "feedback needs text"),
        (ReviewAnswer(action="edit"), "needs the edited plan"),
        (ReviewAnswer(action="edit", files={"x.py": ""}), "needs the edited plan"),
    ]
    for ans, why in refusals:
        with pytest.raises(reviews.ReviewError, match=why):
            reviews.check_answer(item, ans)
    with pytest.raises(reviews.ReviewError, match=r"no pending review for nope \(pending: p-1\)"):
        reviews.match([item], {"nope": ReviewAnswer(action="approve")})
    assert reviews.parse_answer("p-1=reject:too close to LoRA") == (
        "p-1",
        ReviewAnswer(action="reject", feedback="too close to LoRA"),
    )
    assert reviews.parse_answer("p-1@result=approve")[1].stage == "result"
    for text in ("p-1", "p-1=maybe", "=approve", "p-1=feedback", "p-1@review=approve", "p-1=approve:why"):
        with pytest.raises(reviews.ReviewError, match="--answer"):
            reviews.parse_answer(text)


# ---- the command line: scripting flags, no terminal, stale and unknown answers -----------------
def _reviewer_env(cli: CLI, tmp: Path, name: str) -> None:
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text(f"[user]\n\tname = {name}\n")
    cli.env.update({"GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1"})


def _listed(cli: CLI, run_id: str) -> list[dict]:
    return json.loads(cli.run("review", run_id, "--list", "--json").stdout)


def test_scripting_flags_no_tty_and_refused_answers(tmp_path: Path, runtime_python: str) -> None:
    cli = make_cli(tmp_path)
    _reviewer_env(cli, tmp_path, "Rita Reviewer")
    repo = tmp_path / "repo"
    common = ("--sandbox", "process", "--concurrency", "2", "--repo", str(repo), "--run-id", "s1")
    out = cli.run("run", str(MINI), "--interactive", *common)
    assert "4 review(s) pending" in out.stderr  # no terminal: no app, a pointer to `lit2code review`

    proc = subprocess.run(
        [sys.executable, "-m", "agent", "review", "s1"],
        cwd=cli.cwd,
        env=cli.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and all(flag in lines[0] for flag in ("--list", "--answer", "--approve-all"))

    listed = _listed(cli, "s1")
    assert len(listed) == 4 and {r["stage"] for r in listed} == {"plan"}
    assert set(listed[0]) >= {"paper_id", "title", "stage", "interrupt_id", "family", "method_name", "validation"}
    assert all(r["validation"] is None for r in listed)
    ids = {r["family"]: r["paper_id"] for r in listed}
    moe, quant, peft = ids["mixture-of-experts"], ids["quantization"], ids["peft-adapter"]

    def refused(*answers: str, why: str) -> None:
        p = cli.run("review", "s1", *(a for ans in answers for a in ("--answer", ans)), check=False)
        assert p.returncode == 2 and why in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1

    refused("nope=approve", why="no pending review for nope")
    refused(f"{moe}=maybe", why="use PAPER_ID=approve")
    refused(f"{moe}@result=approve", why="its result review is not pending (its plan review is)")
    refused(f"{moe}=approve", f"{moe}=reject", why="answered twice")
    assert _listed(cli, "s1") == listed  # nothing was applied

    cli.run(
        "review", "s1", "--answer", f"{quant}=reject:not novel", "--answer", f"{moe}=approve",
        "--answer", f"{peft}=feedback:rank=16; option rank_gate on",
    )  # fmt: skip
    now = {r["paper_id"]: r for r in _listed(cli, "s1")}
    assert quant not in now and now[moe]["stage"] == "result" and now[moe]["validation"]["ok"]
    assert now[peft]["stage"] == "plan" and "applied: rank=16" in now[peft]["review_notes"]
    refused(f"{quant}=approve", why=f"no pending review for {quant}")  # answered already
    refused(f"{moe}@plan=approve", why="its plan review is not pending (its result review is)")

    # feedback at a result review: re-planned, rendered, validated again, and back at a result review
    cli.run("review", "s1", "--answer", f"{moe}@result=feedback:expert_rank=2")
    again = {r["paper_id"]: r for r in _listed(cli, "s1")}[moe]
    assert again["stage"] == "result" and again["validation"]["attempt"] == 2 and again["validation"]["ok"]
    assert again["review_notes"] == ["applied: expert_rank=2"] and again["interrupt_id"] != now[moe]["interrupt_id"]

    cli.run("review", "s1", "--approve-all")
    assert _listed(cli, "s1") == []
    rep = cli.report("s1")
    assert rep["totals"]["committed"] == 3 and rep["totals"]["rejected"] == 1 and rep["totals"]["pending"] == 0
    rows = {p["paper_id"]: p for p in rep["papers"]}
    assert rows[quant]["reason"] == "not novel"
    decided = rows[quant]["reviews"][0]
    assert (decided["stage"], decided["action"], decided["reviewer"], decided["reason"]) == (
        "plan",
        "reject",
        "Rita Reviewer",
        "not novel",
    )
    assert decided["at"].startswith("20")
    assert [(d["stage"], d["action"]) for d in rows[moe]["reviews"]] == [
        ("plan", "approve"),
        ("result", "feedback"),
        ("result", "approve"),
    ]
    assert rows[moe]["attempts"] == 2
    commits = _commits(repo)
    assert len(commits) == 4
    trailers = sorted(line for c in commits for line in c.splitlines() if line.startswith("Lit2code-Reviewed-by:"))
    assert trailers == [
        "Lit2code-Reviewed-by: Rita Reviewer (plan approve, result approve)",
        "Lit2code-Reviewed-by: Rita Reviewer (plan approve, result feedback, result approve)",
        "Lit2code-Reviewed-by: Rita Reviewer (plan feedback, plan approve, result approve)",
    ]
    committed = [json.loads(p.read_text()) for p in repo.glob("papers/*/plan.json")]
    assert next(p for p in committed if p["paper_id"] == moe)["hyperparameters"]["expert_rank"] == 2
    out = cli.run("review", "s1")
    assert "no pending reviews" in out.stderr


# ---- a real terminal: tmux -----------------------------------------------------------------------
class Tmux:
    """One tmux server of our own (its own socket), 200x50, running one lit2code command per session."""

    def __init__(self, cli: CLI) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed (.ci/run installs it)")
        self.cli, self.sock = cli, f"lit2code-test-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.sock, "-f", os.devnull, *args],
            env={**self.cli.env, "TERM": "xterm-256color"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def start(self, name: str, *args: str) -> None:
        cmd = " ".join([sys.executable, "-m", "agent", *args])
        self.tmux(
            "new-session", "-d", "-x", "200", "-y", "50", "-s", name, "-c", str(self.cli.cwd),
            f"{cmd}; echo EXITED $?; sleep 300",
        )  # fmt: skip

    def screen(self, name: str, colours: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", name)

    def wait(self, name: str, done: Callable[[str], bool], what: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(name)
            if done(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never showed {what}:\n{text}")
            time.sleep(0.5)

    def keys(self, name: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", name, *keys)

    def app_pid(self, name: str) -> int:
        shell = self.tmux("display-message", "-p", "-t", name, "#{pane_pid}").strip()
        out = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()
        return int(out[0]) if out else int(shell)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tmp_path: Path, runtime_python: str):
    cli = make_cli(tmp_path)
    _reviewer_env(cli, tmp_path, "Tess Terminal")
    t = Tmux(cli)
    yield t
    t.close()


def _run_args(tmp_path: Path, run_id: str) -> tuple[str, ...]:
    return (
        "run", str(MINI), "--interactive", "--sandbox", "process", "--concurrency", "2",
        "--repo", str(tmp_path / "repo"), "--run-id", run_id,
    )  # fmt: skip


def test_app_in_a_real_terminal_shows_the_paper_the_code_and_the_keys(tmux: Tmux, tmp_path: Path) -> None:
    tmux.start("t", *_run_args(tmp_path, "tm"))  # `run --interactive` opens the app when the run pauses
    screen = tmux.wait("t", lambda s: "lit2code review — 4 pending" in s, "the app")
    assert "Each Rank Could be an Expert" in screen  # the first paper's title
    assert "Plan  mixture-of-experts · SMoRA · smora.SMoRA" in screen
    assert "smora.py (rendered from the plan; not validated yet)" in screen
    for hint in ("a approve", "e edit", "r reject", "f feedback", "s skip", "A approve all passing", "q quit"):
        assert hint in screen, hint
    coloured = tmux.screen("t", colours=True)
    code_line = next(line for line in coloured.splitlines() if "import torch" in re.sub(r"\x1b\[[0-9;:]*m", "", line))
    code = code_line[max(0, code_line.index("import") - 40) :]
    assert re.search(r"\x1b\[[0-9;]*38;[25];", code), repr(code)  # the module is syntax-highlighted: coloured spans
    tmux.keys("t", "q")
    screen = tmux.wait("t", lambda s: "EXITED" in s, "the app's exit")
    assert "EXITED 0" in screen and "4 review(s) still pending" in screen
    assert len(_listed(tmux.cli, "tm")) == 4


def test_kill_during_a_review_then_resume_repeats_no_validation_or_commit(tmux: Tmux, tmp_path: Path) -> None:
    cli, repo = tmux.cli, tmp_path / "repo"
    tmux.start("k", *_run_args(tmp_path, "kr"))
    tmux.wait("k", lambda s: "lit2code review — 4 pending" in s, "the app")
    tmux.keys("k", "a")  # approve the first plan: the run validates it and asks for its result review
    tmux.wait("k", lambda s: "the run took the answers; 4 review(s) pending" in s, "the approved plan validated")
    before = _listed(cli, "kr")
    assert sorted(r["stage"] for r in before) == ["plan", "plan", "plan", "result"]
    rep = cli.report("kr")
    validated = {p["paper_id"]: p["attempts"] for p in rep["papers"] if p["attempts"]}
    assert list(validated.values()) == [1]
    commits = len(_commits(repo))
    assert commits == 1  # the skeleton

    os.kill(tmux.app_pid("k"), signal.SIGKILL)  # mid-review, the app waiting for a key
    tmux.wait("k", lambda s: "EXITED 137" in s, "the kill")
    assert _listed(cli, "kr") == before  # the same pending set, the same items

    tmux.start("k2", "review", "kr")
    screen = tmux.wait("k2", lambda s: "lit2code review — 4 pending" in s, "the app again")
    assert "Each Rank Could be an Expert" in screen
    tmux.keys("k2", "A")  # approve all passing results: the one validated before the kill
    tmux.wait("k2", lambda s: "the run took the answers; 3 review(s) pending" in s, "the commit")
    tmux.keys("k2", "q")
    assert "EXITED 0" in tmux.wait("k2", lambda s: "EXITED" in s, "the app's exit")
    assert len(_commits(repo)) == commits + 1

    cli.run("review", "kr", "--approve-all")
    rep = cli.report("kr")
    assert rep["totals"]["committed"] == 4 and rep["totals"]["pending"] == 0
    assert all(p["attempts"] == 1 for p in rep["papers"] if p["status"] == "committed")  # no repeated validation
    assert len(_commits(repo)) == commits + 4  # one commit per paper, none twice
    row = next(p for p in rep["papers"] if p["paper_id"] in validated)
    assert [(d["stage"], d["action"], d["reviewer"]) for d in row["reviews"]] == [
        ("plan", "approve", "Tess Terminal"),
        ("result", "approve", "Tess Terminal"),
    ]


# ---- feedback with a model ------------------------------------------------------------------------
async def test_llm_planner_replans_with_the_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime_python: str
) -> None:
    from tests.openai_stub import ScriptedServer

    with ScriptedServer(exchanges=None) as stub:
        monkeypatch.setenv("LIT2CODE_RUNS_DIR", str(tmp_path / "runs"))
        monkeypatch.setenv("LIT2CODE_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        digest = tmp_path / "one.jsonl"
        digest.write_text(MINI.read_text().splitlines()[1] + "\n")  # the SoRA paper
        cfg = RunConfig(
            run_id="llm", inputs=[str(digest)], repo=str(tmp_path / "repo"), planner="llm", model="gpt-4o-mini",
            sandbox="process", concurrency=1, interactive=True,
        )  # fmt: skip
        runs.save_config(cfg)
        await runs.execute(cfg)
        [item] = await reviews.pending(cfg)
        plans_before = [r for r in stub.requests if r.kind == "PlanAnswer"]
        wish = "keep the rank at 4 and gate every rank"
        await reviews.answer(cfg, {item.paper_id: ReviewAnswer(action="feedback", feedback=wish)}, who=REVIEWER)
        asked = [r for r in stub.requests if r.kind == "PlanAnswer"][len(plans_before) :]
        assert len(asked) == 1 and json.dumps(wish) in asked[0].text  # the model is asked again, with the words
        [again] = await reviews.pending(cfg)
        assert again.stage == "plan" and again.interrupt_id != item.interrupt_id
        report = json.loads((runs.run_dir("llm") / "report.json").read_text())
        [decision] = report["papers"][0]["reviews"]
        assert (decision["action"], decision["reason"], decision["reviewer"]) == ("feedback", wish, REVIEWER)
