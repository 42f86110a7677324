"""Capability detection against a scripted server playing each way real servers differ.

Every test counts requests at the server: a request shape the server refused is never sent again,
by the same client or by a later one (what was learned is in the cache database).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from agent.families import load_families
from agent.llm import prompts
from agent.llm.answers import RepairAnswer
from agent.llm.cache import MIGRATIONS, CapabilityStore, ResponseCache
from agent.llm.capabilities import Capabilities, classify, extract_json
from agent.llm.client import LLMClient, LLMError, PromptTooLong
from agent.models import Paper, Triage
from agent.planners.base import PlannerError
from agent.planners.llm import LLMPlanner
from agent.settings import LLMSettings
from tests.openai_stub import Behaviour, Reply, ScriptedServer

GOOD = {"diagnosis": "the sign was flipped", "slots": [{"name": "round_fn", "code": "return x"}]}


@pytest.fixture
def stub():
    with ScriptedServer(exchanges=None) as server:
        server.script(lambda r: Reply.answer(GOOD) if r.kind == "RepairAnswer" else None)
        yield server


def client_for(stub: ScriptedServer, tmp: Path, **kw) -> LLMClient:
    """A client as a new process would make one: the same cache database, nothing in memory."""
    settings = LLMSettings(base_url=stub.base_url, api_key="test", max_retries=kw.pop("max_retries", 2), **kw)
    db = tmp / "cache.sqlite"
    return LLMClient(
        settings, "m", ledger=tmp / "llm_calls.jsonl", cache=ResponseCache(None), capabilities=CapabilityStore(db)
    )


def ask(client: LLMClient, user: str = "fix it") -> RepairAnswer:
    return client.ask("p1", "repair-1", "system", user, RepairAnswer)


def ledger(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "llm_calls.jsonl").read_text().splitlines()]


# -- structured outputs refused: 400, 422, 500 -> JSON mode ----------------------------------------
@pytest.mark.parametrize("status", ["400", "422", "500"])
def test_refused_structured_outputs_fall_back_to_json_mode_once(stub: ScriptedServer, tmp_path: Path, status) -> None:
    stub.behaviour = Behaviour(json_schema=status)
    client = client_for(stub, tmp_path)
    assert ask(client).diagnosis == GOOD["diagnosis"]
    assert ask(client, "second").diagnosis
    # One refused request (a 500 too: its first try goes without the SDK's retries), then JSON mode only.
    assert [r.mode for r in stub.calls()] == ["json_schema", "json_object", "json_object"]
    assert '"title": "RepairAnswer"' in stub.calls()[1].body["messages"][-1]["content"]  # the schema in the prompt
    assert client.capabilities().response_format == "json_object"
    assert "structured outputs refused" in client.capabilities().learned[0]
    # The refused request is a call in the ledger, with no tokens and the reason.
    first = ledger(tmp_path)[0]
    assert first["ok"] is False and first["error"].startswith("refused by the server: json_schema (HTTP")
    assert first["prompt_tokens"] == 0
    # A new process asks in JSON mode straight away.
    ask(client_for(stub, tmp_path), "third")
    assert [r.mode for r in stub.calls()].count("json_schema") == 1


def test_a_500_that_does_not_name_response_format_is_retried_as_a_server_error(
    stub: ScriptedServer, tmp_path: Path
) -> None:
    failures = iter(range(2))
    stub.script(lambda r: Reply.error(500, "out of memory") if next(failures, None) is not None else None)
    stub.rules.reverse()  # the failures first
    client = client_for(stub, tmp_path)
    assert ask(client).diagnosis
    assert [r.mode for r in stub.calls()] == ["json_schema"] * 3  # not mistaken for a refusal of the schema
    assert client.capabilities().response_format == "json_schema" and client.capabilities().confirmed


def test_strict_refused_keeps_the_schema_without_strict(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.behaviour = Behaviour(strict=False)
    client = client_for(stub, tmp_path)
    ask(client)
    ask(client, "second")
    ask(client_for(stub, tmp_path), "third")
    assert [(r.mode, r.strict) for r in stub.calls()] == [("json_schema", True)] + [("json_schema", False)] * 3
    assert "strict" not in stub.calls()[1].body["response_format"]["json_schema"]


def test_max_tokens_only_servers_get_max_tokens(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.behaviour = Behaviour(max_completion_tokens=False)
    client = client_for(stub, tmp_path, max_completion_tokens=300)
    ask(client)
    ask(client_for(stub, tmp_path, max_completion_tokens=300), "second")
    assert [r.token_param for r in stub.calls()] == ["max_completion_tokens", "max_tokens", "max_tokens"]
    assert stub.calls()[1].body["max_tokens"] == 300


def test_every_step_down_in_turn_ends_in_plain_text_with_json_extraction(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.behaviour = Behaviour(json_schema="422", json_object=False, max_completion_tokens=False, chatty=True)
    client = client_for(stub, tmp_path)
    assert ask(client).slots[0].code == "return x"  # found inside prose and a markdown fence
    assert ask(client, "second").diagnosis
    shapes = [(r.mode, r.token_param) for r in stub.calls()]
    assert shapes == [
        ("json_schema", "max_completion_tokens"),  # 422 for the schema
        ("json_object", "max_completion_tokens"),  # 400 for JSON mode
        ("text", "max_completion_tokens"),  # 400 for max_completion_tokens
        ("text", "max_tokens"),
        ("text", "max_tokens"),
    ]
    assert len(set(json.dumps(r.body, sort_keys=True) for r in stub.calls()[:4])) == 4  # no request repeated
    assert "response_format" not in stub.calls()[-1].body
    assert client.capabilities().response_format == "text" and len(client.capabilities().learned) == 3


def test_a_chosen_response_format_is_not_stepped_down_from(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.behaviour = Behaviour(json_schema="400")
    with pytest.raises(LLMError) as exc:
        ask(client_for(stub, tmp_path, response_format="json_schema"))
    assert exc.value.kind == "transport" and "HTTP 400" in str(exc.value)
    assert len(stub.calls()) == 1
    forced = client_for(stub, tmp_path / "b", response_format="text")
    ask(forced)
    assert [r.mode for r in stub.calls()[1:]] == ["text"]


def test_parallel_first_requests_learn_once(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.behaviour = Behaviour(json_schema="400")
    client = client_for(stub, tmp_path)
    threads = [threading.Thread(target=ask, args=(client, f"request {i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.mode for r in stub.calls()].count("json_schema") == 1 and len(stub.calls()) == 5


# -- context length --------------------------------------------------------------------------------
def plan_inputs() -> tuple[Paper, Triage, object]:
    family = load_families()["quantization"]
    paper = Paper(paper_id="q1", title="ChanQuant", abstract="We quantize weights to 4 bits per channel.")
    return paper, Triage(family="quantization", reason="quantization cues"), family


PLAN = {
    "method_name": "ChanQuant",
    "module_name": "chanquant",
    "class_name": "ChanQuant",
    "summary": "Per-channel 4-bit weight quantisation.",
    "components": [],
    "not_implemented": [],
    "confidence": 0.8,
    "hyperparameters": [],
    "options": [],
    "slots": [],
}


def sizes() -> tuple[int, int]:
    """Tokens (as the stub counts them) of the full and the compact plan prompt."""
    paper, triage, family = plan_inputs()
    full = prompts.SYSTEM + prompts.plan(paper, family, triage.reason, None)
    compact = prompts.SYSTEM + prompts.plan(paper, family, triage.reason, None, compact=True)
    return len(full) // 4, len(compact) // 4


@pytest.mark.parametrize("advertise", ["props", "models"])
def test_a_context_the_server_reports_shrinks_the_plan_prompt_before_sending(
    stub: ScriptedServer, tmp_path: Path, advertise
) -> None:
    full, compact = sizes()
    context = compact * 2 + 600  # the compact prompt fits with room for an answer; the whole template does not
    assert full > context
    stub.behaviour = Behaviour(context=context, advertise=advertise)
    stub.script(lambda r: Reply.answer(PLAN) if r.kind == "PlanAnswer" else None)
    client = client_for(stub, tmp_path, max_completion_tokens=400)
    assert client.context_window()[0] == context
    plan = LLMPlanner(client).plan(*plan_inputs())
    assert [r.kind for r in stub.calls()] == ["PlanAnswer"]  # the whole template was never sent
    sent = stub.calls()[0]
    assert sent.prompt_tokens <= context and "Excerpts of the module template" in sent.text
    assert "{{ slots.round_fn" in sent.text  # the slot and its surroundings are there
    assert plan.inferred["prompt"].startswith("the template's code slots and their surroundings only")
    assert sent.body["max_completion_tokens"] == 400


def test_a_context_learned_from_a_refusal_is_never_exceeded_again(stub: ScriptedServer, tmp_path: Path) -> None:
    full, compact = sizes()
    context = compact * 2 + 600
    stub.behaviour = Behaviour(context=context)  # says nothing until refusing (OpenAI's wording)
    stub.script(lambda r: Reply.answer(PLAN) if r.kind == "PlanAnswer" else None)
    client = client_for(stub, tmp_path, max_completion_tokens=400)
    assert client.context_window() == (None, "")
    LLMPlanner(client).plan(*plan_inputs())
    assert [r.prompt_tokens > context for r in stub.calls()] == [True, False]  # one refusal, then the compact prompt
    assert client.capabilities().context == context
    assert ledger(tmp_path)[0]["error"].startswith("refused by the server: context")
    # A new process knows the context: the whole template is not sent again.
    LLMPlanner(client_for(stub, tmp_path, max_completion_tokens=400)).plan(*plan_inputs())
    assert [r.prompt_tokens > context for r in stub.calls()] == [True, False, False]


def test_a_context_too_small_for_any_plan_prompt_fails_the_paper_clearly(stub: ScriptedServer, tmp_path: Path) -> None:
    _, compact = sizes()
    stub.behaviour = Behaviour(context=compact // 2, advertise="props")
    client = client_for(stub, tmp_path)
    with pytest.raises(PlannerError) as exc:  # the planner interface's error, which ends that paper
        LLMPlanner(client).plan(*plan_inputs())
    assert exc.value.kind == "context" and stub.calls() == []  # nothing sent that could not fit
    message = str(exc.value)
    assert "does not fit the model's context" in message and f"context of {compact // 2} tokens" in message
    assert "server /props" in message


def test_lit2code_llm_context_caps_the_context_and_clamps_the_answer(stub: ScriptedServer, tmp_path: Path) -> None:
    stub.behaviour = Behaviour(context=100_000, advertise="props")
    client = client_for(stub, tmp_path, context=2000, max_completion_tokens=4096)
    assert client.context_window() == (2000, "LIT2CODE_LLM_CONTEXT")
    ask(client)
    sent = stub.calls()[0].body["max_completion_tokens"]
    assert 512 <= sent < 2000  # the room the prompt leaves, not 4096
    with pytest.raises(PromptTooLong):
        ask(client, "x" * 8000)
    assert len(stub.calls()) == 1


def test_the_token_estimate_learns_from_the_servers_usage(stub: ScriptedServer, tmp_path: Path) -> None:
    client = client_for(stub, tmp_path)
    before = client.estimate_tokens([{"content": "y" * 4000}])
    ask(client, "z" * 4000)
    learned = client.capabilities().chars_per_token
    assert learned is not None and 3.5 < learned <= 4.1  # the stub counts four characters a token
    assert client.estimate_tokens([{"content": "y" * 4000}]) < before


# -- the pieces ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (400, 'response_format type must be one of "text" or "json_object", but got: json_schema', "json_schema"),
        (422, '{"detail": [{"loc": ["body", "response_format", "type"], "msg": "Input should be"}]}', "json_schema"),
        (500, "unsupported response_format json_schema", "json_schema"),
        (500, "CUDA out of memory", None),
        (400, "Invalid parameter: 'response_format.json_schema.strict' is not supported", "strict"),
        (400, "Unrecognized request argument supplied: max_completion_tokens", "token_param"),
        (422, '{"type": "extra_forbidden", "loc": ["body", "max_completion_tokens"]}', "token_param"),
        (400, "max_completion_tokens is too large: this model supports at most 4096 completion tokens", None),
        (400, "request (9000 tokens) exceeds the available context size (4096 tokens)", "context"),
        (400, "This model's maximum context length is 8192 tokens. However, your messages resulted in", "context"),
        (401, "invalid api key", None),
    ],
)
def test_refusals_are_classified_by_what_they_name(status: int, text: str, expected) -> None:
    assert classify(status, text, Capabilities()) == expected


def test_json_is_extracted_from_prose_and_fences() -> None:
    assert json.loads(extract_json('Sure!\n```json\n{"a": {"b": "}"}}\n```\nBye')) == {"a": {"b": "}"}}
    assert json.loads(extract_json('The answer is {"a": 1} and {"b": 2}.')) == {"a": 1}
    assert extract_json("no json here") == "no json here"


def test_an_old_cache_database_is_migrated_in_place(tmp_path: Path) -> None:
    db_path = tmp_path / "llm-cache.sqlite"
    with sqlite3.connect(db_path) as db:  # as written before migrations existed
        db.execute(
            "CREATE TABLE answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, schema TEXT NOT NULL, "
            "content TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        db.execute("INSERT INTO answers (key, model, schema, content) VALUES ('k', 'm', 'S', '{}')")
    cache = ResponseCache(db_path)
    assert cache.get("k") == "{}"
    store = CapabilityStore(db_path)
    store.put("http://x/v1", "m", {"response_format": "json_object"})
    assert store.get("http://x/v1", "m") == {"response_format": "json_object"}
    with sqlite3.connect(db_path) as db:
        names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [fn.__name__ for fn in MIGRATIONS] == ["m001_answers", "m002_capabilities"]
