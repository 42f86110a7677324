"""The LangGraph workflow in-process: interactive reviews with Command(resume=...), error isolation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.families import FamilySpec
from agent.models import Paper, Plan, ReviewAnswer, RunConfig, Triage
from agent.planners.offline import OfflinePlanner
from agent.workflow import runs
from agent.workflow.services import build_services
from tests.conftest import DATA

MINI = DATA / "mini.jsonl"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime_python: str) -> RunConfig:
    monkeypatch.setenv("LIT2CODE_RUNS_DIR", str(tmp_path / "runs"))
    cfg = RunConfig(run_id="t1", inputs=[str(MINI)], repo=str(tmp_path / "repo"), sandbox="process", concurrency=2)
    runs.save_config(cfg)
    return cfg


def _commits(repo: str) -> int:
    out = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    return int(out)


async def test_interactive_plan_review_resumes_with_a_map_of_answers(config: RunConfig) -> None:
    config = config.model_copy(update={"interactive": True})
    report, pending = await runs.execute(config)
    # All four method papers wait at their plan review at once; nothing is committed yet.
    assert sorted(r.kind for r in pending) == ["plan"] * 4
    assert report.totals.pending == 4 and report.totals.skipped == 2 and report.finished_at is None
    assert _commits(config.repo) == 1  # the skeleton commit only
    ids = await runs.pending_interrupts(config)
    by_family = {req.plan.family: iid for iid, req in ids.items()}
    answers = {iid: ReviewAnswer(action="approve").model_dump() for iid in ids}
    answers[by_family["quantization"]] = ReviewAnswer(action="reject", feedback="not this one").model_dump()
    edited = ids[by_family["distillation"]].plan.model_copy(update={"hyperparameters": {"temperature": 2.0}})
    answers[by_family["distillation"]] = ReviewAnswer(action="edit", plan=edited).model_dump(mode="json")
    report, pending = await runs.execute(config, resume=answers)
    # The three approved/edited plans were validated and now wait at their result review.
    assert sorted(r.kind for r in pending) == ["result"] * 3
    assert all(r.validation is not None and r.validation.ok for r in pending)
    rows = {p.family: p for p in report.papers}
    assert rows["quantization"].status == "rejected" and rows["quantization"].reason == "not this one"
    ids = await runs.pending_interrupts(config)
    report, pending = await runs.execute(
        config, resume={iid: ReviewAnswer(action="approve").model_dump() for iid in ids}
    )
    assert pending == [] and report.finished_at is not None
    assert report.totals.committed == 3 and report.totals.rejected == 1 and report.totals.pending == 0
    plan_json = next(Path(config.repo, "papers").glob("*/plan.json")).parent.parent
    distill = [p for p in plan_json.glob("*/plan.json") if '"distillation"' in p.read_text()]
    assert '"temperature": 2.0' in distill[0].read_text()  # the reviewer's edit is what got committed
    assert _commits(config.repo) == 4


class ExplodingPlanner(OfflinePlanner):
    """Raises an unexpected error for one paper, as a planner bug would."""

    def plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None = None) -> Plan:
        if family.id == "mixture-of-experts":
            raise KeyError("unexpected planner bug")
        return super().plan(paper, triage, family, feedback)


async def test_unexpected_error_in_one_paper_becomes_its_failed_outcome(config: RunConfig) -> None:
    svc = build_services(config)
    svc.planner = ExplodingPlanner()
    report, pending = await runs.execute(config, services=svc)
    assert pending == []
    rows = {p.title[:20]: p for p in report.papers}
    moe = next(p for t, p in rows.items() if t.startswith("Each Rank"))
    assert moe.status == "failed" and "KeyError" in moe.reason and "unexpected planner bug" in moe.reason
    assert report.totals.committed == 3 and report.totals.failed == 1 and report.finished_at is not None
