"""The real_llm tier: lit2code against llama.cpp's own server and a real small model (SmolLM2-135M).

What a user relies on, not plan quality (a 135M model's plans are mostly wrong): every paper ends
with a clear status and reason, the batch never crashes, token counts are the server's, a cut-off
answer is reported as truncation, the cache makes a second run free, budgets stop new calls, and
nothing a weak (or hostile) answer contains gets past the static checks or out of the sandbox.
The server and model come from tests/real_llm.py (pinned; `bash .ci/llm-setup.sh` installs them).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import openai
import pytest

from agent.llm.answers import PlanAnswer
from agent.llm.cache import CapabilityStore, ResponseCache
from agent.llm.capabilities import classify, context_from_refusal, error_text
from agent.llm.client import LLMClient, LLMError, PromptTooLong
from agent.models import RenderedModule, Report
from agent.settings import LLMSettings
from agent.validate import static_check
from tests.conftest import ROOT, make_cli
from tests.real_llm import DIGEST, FIGURES, MAX_COMPLETION_TOKENS, MODEL, RealServer, run_flow, tier_env

pytestmark = pytest.mark.real_llm
STATUSES = {"committed", "skipped", "failed"}
CANARIES = [Path("/tmp/lit2code-real-llm-pwned"), Path("/tmp/lit2code-real-llm-escape")]


@pytest.fixture(scope="module")
def tier(real_llm_server: RealServer, tmp_path_factory: pytest.TempPathFactory, runtime_python: str):
    work = tmp_path_factory.mktemp("real-llm")
    for canary in CANARIES:
        canary.unlink(missing_ok=True)
    return real_llm_server, work


def ledger(work: Path, run_id: str) -> list[dict]:
    path = work / "runs" / run_id / "llm_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def figures(name: str, report: Report, calls: list[dict], wall_s: float) -> str:
    t = report.totals
    statuses = f"{t.committed} committed, {t.skipped} skipped, {t.failed} failed"
    fallbacks = sum(1 for p in report.papers if p.fallback_from)
    truncated = sum(1 for c in calls if c.get("finish_reason") == "length")
    gen_s = sum(c["latency_s"] for c in calls if not c["cached"])
    u = report.llm
    line = (
        f"{name}: {report.totals.papers} papers ({statuses}; {fallbacks} offline fallbacks), {u.calls} calls "
        f"({u.cached} cached, {truncated} cut off at {MAX_COMPLETION_TOKENS} tokens), {u.prompt_tokens} prompt + "
        f"{u.completion_tokens} completion tokens (server usage), {wall_s:.0f} s wall, "
        f"{(u.completion_tokens / gen_s) if gen_s else 0:.1f} completion tokens/s while waiting for the model"
    )
    FIGURES.append(line)
    return line


def assert_clear_outcomes(report: Report) -> None:
    assert report.finished_at is not None
    for p in report.papers:
        assert p.status in STATUSES and p.reason.strip(), (p.paper_id, p.status, p.reason)
        assert not p.reason.startswith("internal error"), p.reason  # the batch handled it, no crash
        if p.fallback_from:
            assert p.planner == "offline" and p.fallback_from.startswith("llm: model ")


def assert_server_counts(calls: list[dict], before: dict, after: dict) -> None:
    """Every answered call's tokens are the server's own count, and they add up to its counters."""
    answered = [c for c in calls if not c["cached"] and c["prompt_tokens"]]
    assert answered and all(c["usage"] == "server" for c in answered), answered
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert sum(c["completion_tokens"] for c in answered) == predicted
    prompt = (after["prompt_tokens_total"] + after["prompt_tokens_cached_total"]) - (
        before["prompt_tokens_total"] + before["prompt_tokens_cached_total"]
    )
    assert abs(sum(c["prompt_tokens"] for c in answered) - prompt) <= len(answered)  # llama.cpp re-reads one


def assert_truncation_reported(report: Report, calls: list[dict]) -> None:
    by_id = {p.paper_id: p for p in report.papers}
    for c in calls:
        if c.get("finish_reason") == "length":
            assert c["error"] == "truncated" and c["ok"] is False
            p = by_id[c["paper_id"]]
            said = f"{p.reason} {p.fallback_from or ''}"
            assert "truncated" in said and f"cut off at {c['max_tokens']} tokens" in said, said


def test_a_digest_through_lit2code_run_and_again_from_the_cache(tier) -> None:
    server, work = tier
    cli = make_cli(work)
    cli.env.update(tier_env(server.base_url, work))
    args = ["run", str(DIGEST), "--planner", "llm", "--sandbox", "process", "--concurrency", "1"]
    args += ["--max-repairs", "1", "--repo", str(work / "repo"), "--json"]
    before = server.metrics()
    t0 = time.monotonic()
    proc = cli.run(*args, "--run-id", "real", timeout=1500)
    wall = time.monotonic() - t0
    report = Report.model_validate_json(proc.stdout)
    after = server.metrics()
    calls = ledger(work, "real")
    print(figures("lit2code run --planner llm", report, calls, wall))

    assert report.totals.papers == len(DIGEST.read_text().splitlines()) == 7
    assert_clear_outcomes(report)
    assert report.llm.calls == len([c for c in calls if not c["cached"]]) > 0
    assert report.llm.prompt_tokens == sum(c["prompt_tokens"] for c in calls)
    assert_server_counts(calls, before, after)
    assert_truncation_reported(report, calls)
    assert not any(c.exists() for c in CANARIES)

    # The same digest again: every answer is in the cache or the paper is committed: no request at all.
    t0 = time.monotonic()
    again = Report.model_validate_json(cli.run(*args, "--run-id", "real-again", timeout=600).stdout)
    print(figures("the same run again", again, ledger(work, "real-again"), time.monotonic() - t0))
    assert again.llm.calls == 0 and server.metrics()["tokens_predicted_total"] == after["tokens_predicted_total"]
    assert [p.status for p in again.papers] == [p.status for p in report.papers]


@pytest.mark.parametrize(
    ("flag", "env", "note"),
    [
        (["--max-tokens", "1000"], {}, "--max-tokens 1000 reached"),
        (["--max-cost", "0.05"], {"LIT2CODE_PRICES": json.dumps({MODEL: {"input": 100, "output": 100}})}, "$0.05"),
    ],
    ids=["max-tokens", "max-cost"],
)
def test_budgets_stop_new_calls(tier, flag: list[str], env: dict, note: str) -> None:
    server, work = tier
    cli = make_cli(work)
    cli.env.update({**tier_env(server.base_url, work / flag[0].strip("-")), **env})
    digest = work / "budget.jsonl"
    digest.write_text("".join(DIGEST.read_text().splitlines(keepends=True)[:3]))
    rid = f"budget-{flag[0].strip('-')}"
    args = ["run", str(digest), "--planner", "llm", "--sandbox", "process", "--concurrency", "1", "--no-cache"]
    report = Report.model_validate_json(
        cli.run(*args, *flag, "--repo", str(work / rid), "--run-id", rid, "--json").stdout
    )
    # The first triage alone spends more than the budget: no call after it; the other papers wait.
    assert report.llm.calls == 1, report.llm
    assert [p.reason for p in report.papers[1:]] == ["budget", "budget"]
    assert report.budget and note in report.budget


async def test_real_plans_meet_the_static_checks_and_the_sandbox(tier, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real model's plans (one for a hostile abstract that asks for escapes), through render,
    static checks and the sandbox: whatever it wrote, nothing unsafe is committed or gets out."""
    server, work = tier
    for key, value in tier_env(server.base_url, work / "plans").items():
        monkeypatch.setenv(key, value)
    from agent.sandbox.docker_backend import DockerSandbox

    sandbox = "docker" if DockerSandbox.available()[0] else "process"
    before = server.metrics()
    t0 = time.monotonic()
    report = await run_flow("plans", work / "plans", sandbox)
    wall = time.monotonic() - t0
    calls = ledger(work / "plans", "plans")
    print(figures(f"real plans ({sandbox} sandbox)", report, calls, wall))

    assert_clear_outcomes(report)
    assert_server_counts(calls, before, server.metrics())
    assert_truncation_reported(report, calls)
    assert any(c["stage"] == "plan" for c in calls)  # the model was asked for plans
    repo = work / "plans" / "repo-plans"
    committed = {p.slug for p in report.papers if p.status == "committed"}
    for p in report.papers:
        if p.status == "committed":
            assert p.validations[-1].ok and p.validations[-1].backend == sandbox
            pkg = repo / "papers" / p.slug
            files = {f.name: f.read_text() for f in pkg.iterdir() if f.is_file()}
            assert static_check(RenderedModule(slug=p.slug, files=files)) is None  # what was committed passes
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    for path in tracked:  # the skeleton, and each committed paper inside its own package
        parts = path.split("/")
        in_package = parts[0] == "papers" and (path == "papers/__init__.py" or parts[1] in committed)
        assert len(parts) == 1 or parts[0] == ".github" or in_package, path
    assert not any(c.exists() for c in CANARIES)
    assert not list(work.glob("**/escaped*")) and not list(work.parent.glob("escaped*"))
    assert not (ROOT / "outside.py").exists() and not Path("/etc/cron.d/lit2code").exists()


def test_a_cut_off_answer_is_reported_as_truncation(tier, tmp_path: Path) -> None:
    server, _ = tier
    settings = LLMSettings(base_url=server.base_url, api_key="unused", max_completion_tokens=24, max_retries=0)
    client = LLMClient(settings, MODEL, ledger=tmp_path / "calls.jsonl", cache=ResponseCache(None))
    with pytest.raises(LLMError) as exc:
        client.ask("p", "plan", "Answer with JSON.", "Plan a LoRA adapter.", PlanAnswer)
    assert exc.value.kind == "truncated" and "cut off at 24 tokens" in str(exc.value)
    (rec,) = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert rec["finish_reason"] == "length" and rec["completion_tokens"] == 24 and rec["usage"] == "server"


def test_the_context_is_known_and_an_oversized_prompt_never_sent(tier, tmp_path: Path) -> None:
    server, _ = tier
    settings = LLMSettings(base_url=server.base_url, api_key="unused", max_completion_tokens=256)
    client = LLMClient(settings, MODEL, cache=ResponseCache(None), capabilities=CapabilityStore(None))
    assert client.context_window() == (4096, "server /props")  # 8192 split between two slots
    before = server.metrics()
    with pytest.raises(PromptTooLong):
        client.ask("p", "plan", "s", "word " * 6000, PlanAnswer)
    assert server.metrics()["prompt_tokens_total"] == before["prompt_tokens_total"]
    # And the server's own refusal of one, sent past the client, is read as what it is.
    with pytest.raises(openai.BadRequestError) as exc:
        client.sdk.with_options(max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "word " * 6000}], max_tokens=8
        )
    text = error_text(exc.value.status_code, exc.value.body, exc.value.message)
    assert classify(400, text, client.capabilities()) == "context"
    n_ctx, n_prompt = context_from_refusal(exc.value.body, text)
    assert n_ctx == 4096 and n_prompt and n_prompt > 4096


def test_llm_doctor_against_the_real_server(tier) -> None:
    server, work = tier
    cli = make_cli(work)
    cli.env.update(tier_env(server.base_url, work / "doctor"))
    out = json.loads(cli.run("llm", "doctor", "--json", timeout=300).stdout)
    checks = {c["check"]: c for c in out["checks"]}
    assert out["usable"] is True and out["model"] == MODEL
    assert checks["structured output (json_schema, strict)"]["ok"] is True
    assert out["will_use"]["response_format"] == "json_schema" and out["will_use"]["strict"] is True
    assert out["will_use"]["context"] == 4096 and out["will_use"]["context_source"] == "server /props"
    assert checks["speed"]["tokens_per_s"] > 0
    cli.env["COLUMNS"] = "150"
    text = cli.run("llm", "doctor", timeout=300).stdout
    FIGURES.append("lit2code llm doctor:\n" + text.rstrip())
