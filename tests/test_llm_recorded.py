"""Recorded model exchanges for papers of the real digests, replayed through the whole pipeline.

tests/data/llm_exchanges/ holds, per paper, hand-written answers in the shape of a strong model's to
lit2code's triage, plan and repair prompts (its README says why they are not recordings; the real
model's recorded answers are in recorded/, replayed by test_llm_replay.py). One of them fails its
tests first and is fixed by the repair loop.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from agent import digest
from agent.models import RunConfig
from agent.workflow import runs
from tests.conftest import EXAMPLES
from tests.openai_stub import EXCHANGES, ScriptedServer

RECORDS = {json.loads(p.read_text())["paper_id"]: json.loads(p.read_text()) for p in sorted(EXCHANGES.glob("*.json"))}


def stage(record: dict, name: str) -> list[dict]:
    return [ex for ex in record["exchanges"] if ex["stage"] == name]


def test_there_are_at_least_five_records_with_one_repair_and_one_generic() -> None:
    assert len(RECORDS) >= 5
    assert all(r["source"] == "hand-written" for r in RECORDS.values())  # labelled: no server wrote them
    assert any(stage(r, "repair") for r in RECORDS.values())
    assert any(stage(r, "triage")[0]["answer"]["family"] == "generic" for r in RECORDS.values())


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, runtime_python: str):
    tmp = tmp_path_factory.mktemp("recorded")
    papers = {p.paper_id: p for p in digest.load_inputs([EXAMPLES / "daily-papers-001.txt"])}
    missing = sorted(set(RECORDS) - set(papers))
    assert not missing, f"records for papers not in digest 001: {missing}"
    lines = [
        json.dumps({"title": papers[i].title, "abstract": papers[i].abstract, "url": papers[i].url}) for i in RECORDS
    ]
    (tmp / "recorded.jsonl").write_text("\n".join(lines) + "\n")
    mp = pytest.MonkeyPatch()
    with ScriptedServer() as server:
        mp.setenv("LIT2CODE_RUNS_DIR", str(tmp / "runs"))
        mp.setenv("LIT2CODE_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("OPENAI_BASE_URL", server.base_url)
        mp.setenv("OPENAI_API_KEY", "test")
        cfg = RunConfig(
            run_id="recorded",
            inputs=[str(tmp / "recorded.jsonl")],
            repo=str(tmp / "repo"),
            planner="llm",
            model="gpt-4o",
            sandbox="process",  # the recorded code was reviewed; docker runs it in CI's docker tests
            concurrency=2,
        )
        runs.save_config(cfg)
        report, _ = asyncio.run(runs.execute(cfg))
        requests = list(server.requests)
    mp.undo()
    return tmp, report, requests


def test_every_recorded_paper_is_committed_under_the_recorded_family(replay) -> None:
    tmp, report, _ = replay
    for row in report.papers:
        record = RECORDS[row.paper_id]
        assert row.status == "committed", (row.paper_id, row.reason)
        assert row.family == stage(record, "triage")[0]["answer"]["family"]
        assert row.llm.calls == len(record["exchanges"])  # triage, plan (and repairs): one call each
        assert row.llm.prompt_tokens > 0 and row.llm.cost_usd > 0  # gpt-4o has a list price


def test_the_recorded_code_is_what_got_committed(replay) -> None:
    tmp, report, _ = replay
    for row in report.papers:
        record = RECORDS[row.paper_id]
        pkg = tmp / "repo" / "papers" / row.slug
        plan = json.loads((pkg / "plan.json").read_text())
        assert plan["planner"] == "llm"
        answers = [ex["answer"] for ex in record["exchanges"] if ex["stage"] != "triage"]
        final_slots = {}
        for ans in answers:
            final_slots.update({s["name"]: s["code"] for s in ans.get("slots", [])})
            final_slots.update({f["path"]: f["content"] for f in ans.get("files", [])})
        module = "\n".join(p.read_text() for p in pkg.glob("*.py"))
        for code in final_slots.values():
            first = next(line.strip() for line in code.splitlines() if line.strip())
            assert first in module, (row.paper_id, first)


def test_the_repair_loop_fixes_the_recorded_failure(replay) -> None:
    _, report, requests = replay
    repaired = [r for r in report.papers if stage(RECORDS[r.paper_id], "repair")]
    assert repaired
    for row in repaired:
        assert row.attempts == 2 and [v.ok for v in row.validations] == [False, True]
        assert row.validations[0].tests.failed + row.validations[0].tests.errors >= 1
        assert row.validations[1].tests.failed == 0 and row.validations[1].tests.passed > 0
        asked = [r for r in requests if r.paper_id == row.paper_id and r.kind.endswith("RepairAnswer")]
        assert len(asked) == 1 and (row.validations[0].error or "").splitlines()[-1] in asked[0].text


def test_a_recorded_generic_module_carries_the_model_written_notice(replay) -> None:
    tmp, report, _ = replay
    generic = [r for r in report.papers if r.family == "generic"]
    assert generic
    for row in generic:
        readme = (tmp / "repo" / "papers" / row.slug / "README.md").read_text()
        assert "Model-written code" in readme and "## How it was validated" in readme
