"""`lit2code llm doctor` against the scripted server (the real one is in test_real_llm.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from agent.cli import app
from tests.openai_stub import Behaviour, ScriptedServer


def doctor(tmp_path: Path, base_url: str, *args: str):
    env = {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "test",
        "LIT2CODE_CACHE_DIR": str(tmp_path / "cache"),
        "LIT2CODE_LLM_MAX_RETRIES": "0",
        "LIT2CODE_LLM_TIMEOUT": "5",
    }
    old = {k: os.environ.get(k) for k in [*env, "LIT2CODE_MODEL"]}
    os.environ.update(env)
    os.environ.pop("LIT2CODE_MODEL", None)
    try:
        return CliRunner().invoke(app, ["llm", "doctor", *args])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_doctor_reports_what_works_and_what_lit2code_will_use(tmp_path: Path) -> None:
    behaviour = Behaviour(json_schema="400", context=6000, advertise="props")
    with ScriptedServer(exchanges=None, behaviour=behaviour) as stub:
        result = doctor(tmp_path, stub.base_url, "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        checks = {c["check"]: c for c in out["checks"]}
        assert out["model"] == "stub"  # the only model the server lists
        assert checks["structured output (json_schema, strict)"]["ok"] is False
        assert "HTTP 400" in checks["structured output (json_schema, strict)"]["detail"]
        assert checks["JSON mode (json_object)"]["ok"] is True
        assert checks["context"]["tokens"] == 6000 and "server /props" in checks["context"]["detail"]
        assert checks["speed"]["ok"] is True and checks["speed"]["tokens_per_s"] > 0
        use = out["will_use"]
        assert use["response_format"] == "json_object" and use["token_param"] == "max_completion_tokens"
        assert "structured outputs refused" in use["learned"][0]
        # Remembered: a second doctor (or run) does not send the refused shape through the client again.
        n_schema = sum(r.mode == "json_schema" for r in stub.calls())
        again = json.loads(doctor(tmp_path, stub.base_url, "--json").output)
        assert again["will_use"]["remembered_from_earlier"] is True
        # Only the doctor's own probes of each shape ask for json_schema again: two of them.
        assert sum(r.mode == "json_schema" for r in stub.calls()) == n_schema + 2
        text = doctor(tmp_path, stub.base_url, "--forget")
        assert text.exit_code == 0 and "lit2code will use: JSON mode" in text.output


def test_doctor_on_an_unreachable_server_exits_1(tmp_path: Path) -> None:
    result = doctor(tmp_path, "http://127.0.0.1:9/v1", "--model", "m")
    assert result.exit_code == 1, result.output
    assert "not usable" in result.output
