"""The model client against a scripted OpenAI-compatible server on loopback (the real `openai` SDK)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.llm.answers import PlanAnswer, RepairAnswer, triage_schema
from agent.llm.cache import ResponseCache
from agent.llm.client import Budget, BudgetExceeded, LLMClient, LLMError
from agent.llm.prices import price_for
from agent.settings import LLMSettings
from tests.openai_stub import Reply, Request, ScriptedServer

GOOD_REPAIR = {"diagnosis": "the sign of the update was flipped", "slots": [{"name": "round_fn", "code": "return x"}]}


@pytest.fixture
def stub():
    with ScriptedServer(exchanges=None) as server:
        yield server


def client_for(stub: ScriptedServer, tmp_path: Path, model: str = "gpt-4o-mini", **kw) -> LLMClient:
    settings = LLMSettings(base_url=stub.base_url, api_key="test", max_retries=kw.pop("max_retries", 2), **kw)
    return LLMClient(
        settings,
        model,
        ledger=tmp_path / "llm_calls.jsonl",
        cache=ResponseCache(tmp_path / "cache.sqlite"),
        budget=kw.pop("budget", None),
    )


def ask_repair(client: LLMClient, paper: str = "p1", user: str = "fix it") -> RepairAnswer:
    return client.ask(paper, "repair-1", "system", user, RepairAnswer)


def test_structured_answer_is_parsed_counted_priced_and_logged(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply.answer(GOOD_REPAIR))
    client = client_for(stub, tmp_path)
    answer = ask_repair(client)
    assert answer.slots[0].code == "return x"
    req = stub.calls()[0]
    assert req.mode == "json_schema" and req.body["response_format"]["json_schema"]["name"] == "RepairAnswer"
    assert req.body["response_format"]["json_schema"]["strict"] is True
    usage = client.take_usage("p1")
    assert usage.calls == 1 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    price = price_for("gpt-4o-mini")
    assert price is not None
    expected = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6
    assert usage.cost_usd == pytest.approx(expected)
    log = [json.loads(line) for line in (tmp_path / "llm_calls.jsonl").read_text().splitlines()]
    assert log[0]["paper_id"] == "p1" and log[0]["stage"] == "repair-1" and log[0]["ok"] is True
    assert client.take_usage("p1").calls == 0  # taken once


def test_the_same_request_again_is_answered_from_the_cache(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply.answer(GOOD_REPAIR))
    ask_repair(client_for(stub, tmp_path))
    again = client_for(stub, tmp_path)  # a new process: same cache file
    assert ask_repair(again).diagnosis == GOOD_REPAIR["diagnosis"]
    assert len(stub.calls()) == 1
    usage = again.take_usage("p1")
    assert usage.calls == 0 and usage.cached == 1 and usage.cost_usd == 0
    ask_repair(again, user="a different failure")  # a different request is not a hit
    assert len(stub.calls()) == 2


def test_unknown_model_reports_tokens_but_no_cost_and_prices_can_be_overridden(
    stub: ScriptedServer, tmp_path: Path
) -> None:
    stub.script(lambda r: Reply.answer(GOOD_REPAIR))
    local = client_for(stub, tmp_path, model="llama3.1:8b")
    ask_repair(local)
    usage = local.take_usage("p1")
    assert usage.prompt_tokens > 0 and usage.cost_usd == 0.0
    priced = client_for(
        stub, tmp_path / "b", model="llama3.1:8b", prices={"llama3.1:8b": {"input": 1.0, "output": 2.0}}
    )
    ask_repair(priced)
    u = priced.take_usage("p1")
    assert u.cost_usd == pytest.approx((u.prompt_tokens * 1.0 + u.completion_tokens * 2.0) / 1e6)


def test_prices_and_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("LIT2CODE_PRICES", '{"my-model": {"input": 0.5, "output": 1.5}}')
    monkeypatch.setenv("LIT2CODE_MODEL", "my-model")
    s = LLMSettings()
    assert s.base_url == "http://127.0.0.1:1/v1" and s.model == "my-model"
    assert price_for("my-model", s.prices).output == 1.5
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")  # dated snapshots


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retried(stub: ScriptedServer, tmp_path: Path, status: int) -> None:
    failures = iter(range(2))

    def flaky(r: Request) -> Reply:
        if next(failures, None) is not None:
            return Reply.error(status, "try again", **{"retry-after-ms": "20"})
        return Reply.answer(GOOD_REPAIR)

    stub.script(flaky)
    assert ask_repair(client_for(stub, tmp_path)).diagnosis
    assert len(stub.calls()) == 3


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_not_retried(stub: ScriptedServer, tmp_path: Path, status: int) -> None:
    stub.script(lambda r: Reply.error(status, "no such thing"))
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path, response_format="json_schema"))
    assert exc.value.kind == "transport" and f"HTTP {status}" in str(exc.value)
    assert len(stub.calls()) == 1


def test_a_slow_server_times_out_after_the_retries(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply(content=json.dumps(GOOD_REPAIR), delay_s=1.5))
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path, timeout_s=0.3, max_retries=1))
    assert exc.value.kind == "transport" and "too slow" in str(exc.value)
    assert len(stub.calls()) == 2  # the first try and one retry


@pytest.mark.parametrize("raw", [b"<html>502 Bad Gateway</html>", b'{"choices": "nope"}'])
def test_a_malformed_response_body_is_a_clear_error(stub: ScriptedServer, tmp_path: Path, raw: bytes) -> None:
    stub.script(lambda r: Reply(raw=raw))
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path))
    assert exc.value.kind == "transport"
    assert "malformed" in str(exc.value) or "not a chat completion" in str(exc.value)


def test_non_json_gets_one_corrective_retry(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply.answer(GOOD_REPAIR) if r.corrective else Reply(content="Sure! The fix is easy."))
    client = client_for(stub, tmp_path)
    assert ask_repair(client).diagnosis == GOOD_REPAIR["diagnosis"]
    first, second = stub.calls()
    assert not first.corrective and second.corrective
    assert "not valid JSON" in second.body["messages"][-1]["content"]
    assert client.take_usage("p1").calls == 2  # both calls are paid for


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Here is my plan: use LoRA.", "not valid JSON"),
        (json.dumps({"diagnosis": 3}), "not valid against the RepairAnswer schema"),
        ("", "empty"),
        ('```json\n{"diagnosis": "x"}\n```', "slots"),
    ],
)
def test_answers_that_stay_broken_fail_after_the_retry(
    stub: ScriptedServer, tmp_path: Path, content: str, expected: str
) -> None:
    stub.script(lambda r: Reply(content=content))
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path))
    assert exc.value.kind == "invalid" and expected in str(exc.value)
    assert len(stub.calls()) == 2
    assert ResponseCache(tmp_path / "cache.sqlite").get("anything") is None


def test_a_fenced_json_answer_is_accepted(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply(content="```json\n" + json.dumps(GOOD_REPAIR) + "\n```"))
    assert ask_repair(client_for(stub, tmp_path)).slots[0].name == "round_fn"


@pytest.mark.parametrize(
    "reply",
    [Reply(content=None, refusal="I can't help with that."), Reply(content="I'm sorry, but I can't assist with that.")],
)
def test_refusals_are_reported_as_refusals(stub: ScriptedServer, tmp_path: Path, reply: Reply) -> None:
    stub.script(lambda r: reply)
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path))
    assert exc.value.kind == "refused" and "refused" in str(exc.value)
    assert len(stub.calls()) == 1


def test_absurdly_large_and_truncated_answers_are_refused(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply(content='{"diagnosis": "' + "x" * 300_000 + '", "slots": []}'))
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path))
    assert exc.value.kind == "too_large"
    stub.rules.clear()
    stub.script(lambda r: Reply(content='{"diagnosis": "cut', finish_reason="length"))
    with pytest.raises(LLMError) as exc:
        ask_repair(client_for(stub, tmp_path), user="other")
    assert exc.value.kind == "truncated" and "LIT2CODE_LLM_MAX_COMPLETION_TOKENS" in str(exc.value)


def test_servers_without_structured_outputs_get_json_mode(stub: ScriptedServer, tmp_path: Path) -> None:
    def no_schema(r: Request) -> Reply:
        if r.mode == "json_schema":
            return Reply.error(400, "response_format type json_schema is not supported by this server")
        return Reply.answer(GOOD_REPAIR)

    stub.script(no_schema)
    client = client_for(stub, tmp_path)
    assert ask_repair(client).diagnosis
    assert ask_repair(client, user="second").diagnosis
    modes = [r.mode for r in stub.calls()]
    assert modes == ["json_schema", "json_object", "json_object"]  # it switches once and stays switched
    assert '"title": "RepairAnswer"' in stub.calls()[1].body["messages"][-1]["content"]


def test_the_budget_stops_new_calls_but_not_cache_hits(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.script(lambda r: Reply.answer(GOOD_REPAIR))
    client = client_for(stub, tmp_path, budget=Budget(max_tokens=10))
    ask_repair(client)
    with pytest.raises(BudgetExceeded) as exc:
        ask_repair(client, user="new request")
    assert "--max-tokens 10 reached" in str(exc.value)
    assert len(stub.calls()) == 1
    assert ask_repair(client).diagnosis  # cached: no new call needed
    # A resumed run reads what was spent from the ledger.
    resumed = client_for(stub, tmp_path, budget=Budget(max_tokens=10))
    assert resumed.budget.exceeded()


def test_the_triage_schema_only_admits_known_families(stub: ScriptedServer, tmp_path: Path) -> None:
    schema = triage_schema(["peft-adapter", "quantization"])
    bad = {"implementable": True, "family": "rm-rf", "method_name": "X", "reason": "r"}
    good = {**bad, "family": "quantization"}
    stub.script(lambda r: Reply.answer(good if r.corrective else bad))
    client = client_for(stub, tmp_path)
    assert client.ask("p", "triage", "s", "u", schema).family == "quantization"
    sent = stub.calls()[0].body["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["family"]["enum"] == ["peft-adapter", "quantization", "generic", "skip"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("module_name", "../../etc/passwd"),
        ("module_name", "torch"),
        ("class_name", "os.system"),
        ("method_name", "A\nB"),
    ],
)
def test_plan_names_are_validated(field: str, value: str) -> None:
    plan = {
        "method_name": "SoRA",
        "module_name": "sora",
        "class_name": "SoRA",
        "summary": "s",
        "components": [],
        "not_implemented": [],
        "confidence": 0.5,
        "hyperparameters": [],
        "options": [],
        "slots": [],
    }
    PlanAnswer.model_validate(plan)
    with pytest.raises(ValueError):
        PlanAnswer.model_validate({**plan, field: value})
