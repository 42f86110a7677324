"""The real model's recorded answers (tests/data/llm_exchanges/recorded/, from tests/record_exchanges.py),
replayed through the same flows without the model: every request lit2code makes must be one the real
server answered, and every paper must end as it did against the real server."""

from __future__ import annotations

import json

import pytest

from tests.openai_stub import EXCHANGES, Request, ScriptedServer, replaying
from tests.real_llm import DIGEST, run_flow, tier_env

RECORDED = EXCHANGES / "recorded"
SERVER = json.loads((RECORDED / "_server.json").read_text())
PAPERS = {p.stem: json.loads(p.read_text()) for p in sorted(RECORDED.glob("*.json")) if not p.stem.startswith("_")}


def test_the_recording_covers_the_tier_and_says_where_it_came_from() -> None:
    assert len(PAPERS) == len(DIGEST.read_text().splitlines())
    assert "xllamacpp" in SERVER["source"]["server"] and "sha256" in SERVER["source"]["model"]
    flows = {flow for rec in PAPERS.values() for flow in rec["flows"]}
    assert flows == {"run", "plans"}
    replies = [ex["response"] for rec in PAPERS.values() for f in rec["flows"].values() for ex in f["exchanges"]]
    assert replies and all("usage" in r and "timings" in r for r in replies)  # llama.cpp's own bodies


@pytest.mark.parametrize("flow", ["run", "plans"])
async def test_the_recorded_answers_replay_to_the_same_outcomes(
    flow: str, tmp_path, monkeypatch: pytest.MonkeyPatch, runtime_python: str
) -> None:
    exchanges = [ex for rec in PAPERS.values() if flow in rec["flows"] for ex in rec["flows"][flow]["exchanges"]]
    unmatched: list[Request] = []
    with ScriptedServer(exchanges=None) as stub:
        stub.canned_gets = dict(SERVER["gets"])
        stub.script(replaying(exchanges, unmatched))
        for key, value in tier_env(stub.base_url, tmp_path).items():
            monkeypatch.setenv(key, value)
        report = await run_flow(flow, tmp_path, "process")
        sent = len(stub.calls())
    assert unmatched == [], [r.paper_id for r in unmatched]
    assert sent == len(exchanges)
    for p in report.papers:
        want = PAPERS[p.paper_id]["flows"][flow]["outcome"]
        got = {"status": p.status, "reason": p.reason, "planner": p.planner, "fallback_from": p.fallback_from}
        assert got == want, p.paper_id
