"""`lit2code llm doctor`'s probe: what the configured endpoint supports, and what lit2code will use there
(remembered, as a run would remember it)."""

from __future__ import annotations

import time
from typing import Any

from agent.llm.answers import ProbeAnswer
from agent.llm.cache import CapabilityStore, ResponseCache
from agent.llm.capabilities import Capabilities, served_models, server_context
from agent.llm.client import LLMClient, LLMError, Probe
from agent.settings import LLMSettings, Settings

SYSTEM = "You answer with one JSON object and nothing else."
USER = 'Reply with exactly this JSON object: {"ok": true, "word": "ready"}'
SPEED = "Count from 1 to 60, separated by spaces."
SHAPES: list[tuple[str, Capabilities]] = [
    ("structured output (json_schema, strict)", Capabilities(response_format="json_schema", strict=True)),
    ("structured output (json_schema)", Capabilities(response_format="json_schema", strict=False)),
    ("JSON mode (json_object)", Capabilities(response_format="json_object", strict=False)),
    ("plain text + JSON extraction", Capabilities(response_format="text", strict=False)),
]


def _check(name: str, ok: bool | None, detail: str, **extra: Any) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail, **extra}


def _probe_row(name: str, p: Probe) -> dict[str, Any]:
    detail = p.detail if not p.answered else f"{p.detail} in {p.latency_s:.2f} s"
    if p.finish_reason == "length":
        detail += " (cut off at the token limit)"
    return _check(
        name,
        p.answered and p.valid,
        detail,
        latency_s=round(p.latency_s, 3),
        prompt_tokens=p.prompt_tokens,
        completion_tokens=p.completion_tokens,
    )


def diagnose(settings: LLMSettings, model: str | None, forget: bool = False) -> dict[str, Any]:
    """Probe the endpoint; the result as a dict (what `--json` prints)."""
    endpoint = settings.base_url or "the OpenAI API"
    out: dict[str, Any] = {"endpoint": endpoint, "model": model, "checks": []}
    checks: list[dict[str, Any]] = out["checks"]

    t0 = time.monotonic()
    served = served_models(settings.base_url, settings.api_key)
    listed_s = time.monotonic() - t0
    if served:
        checks.append(
            _check("models", True, f"{len(served)} listed in {listed_s:.2f} s: {', '.join(served[:5])}", models=served)
        )
    else:
        checks.append(_check("models", False, f"GET /models answered no model list ({endpoint})", models=[]))
    if model is None:
        if len(served) == 1:
            model = served[0]
            out["model_source"] = "the only model the server lists"
        else:
            out["usable"] = False
            out["error"] = "no model: pass --model NAME or set LIT2CODE_MODEL"
            return out
    out["model"] = model
    if served and model not in served:
        checks.append(_check("model listed", None, f"the server does not list {model!r}; it may still answer to it"))

    store = CapabilityStore(Settings().llm_cache_path())
    client = LLMClient(settings, model, cache=ResponseCache(None), capabilities=store)
    if forget and store.forget(client.server, model):
        out["forgotten"] = True
    remembered = store.get(client.server, model) is not None

    # What each request shape does, on its own.
    for name, caps in SHAPES:
        checks.append(_probe_row(name, client.probe(caps, SYSTEM, USER, ProbeAnswer, max_tokens=48)))
    # What lit2code's client settles on: the same steps a run takes, remembered for the runs after.
    try:
        answer = client.ask("doctor", "doctor", SYSTEM, USER, ProbeAnswer)
        checks.append(_check("lit2code request", True, f"answered {answer.model_dump_json()}"))
        usable = True
    except LLMError as exc:
        checks.append(_check("lit2code request", False, f"{exc.kind}: {exc}"))
        usable = False

    caps = client.capabilities()
    params = {}
    for param in ("max_completion_tokens", "max_tokens"):
        p = client.probe(caps.model_copy(update={"token_param": param}), SYSTEM, USER, ProbeAnswer, 48)
        params[param] = p.answered
    checks.append(
        _check(
            "token limit parameter",
            any(params.values()),
            ", ".join(f"{k}: {'accepted' if v else 'refused'}" for k, v in params.items()),
        )
    )

    speed = client.probe(
        Capabilities(response_format="text", strict=False, token_param=client.capabilities().token_param),
        "You are a helpful assistant.",
        SPEED,
        ProbeAnswer,
        max_tokens=96,
    )
    if speed.answered and speed.completion_tokens:
        rate = speed.completion_tokens / speed.latency_s if speed.latency_s else 0.0
        detail = f"{speed.completion_tokens} tokens in {speed.latency_s:.2f} s: {rate:.1f} tokens/s end to end"
        if speed.generation_tokens_per_s:
            detail += f", {speed.generation_tokens_per_s:.1f} tokens/s generation (server timings)"
        checks.append(_check("speed", True, detail, tokens_per_s=round(rate, 2), latency_s=round(speed.latency_s, 3)))
    else:
        checks.append(_check("speed", False, speed.detail or "no completion tokens counted"))

    n, source = server_context(settings.base_url, settings.api_key, model)
    context, used_source = client.context_window()
    if context:
        detail = f"{context} tokens ({used_source})"
        if n and source != used_source:
            detail += f"; the server says {n} ({source})"
    else:
        detail = "unknown: the server does not say; set LIT2CODE_LLM_CONTEXT to have prompts fitted to it"
    checks.append(_check("context", bool(context) or None, detail, tokens=context))

    caps = client.capabilities()
    out["will_use"] = {
        "response_format": caps.response_format,
        "strict": caps.strict if caps.response_format == "json_schema" else None,
        "token_param": caps.token_param,
        "max_completion_tokens": settings.max_completion_tokens,
        "context": context,
        "context_source": used_source or None,
        "remembered_from_earlier": remembered and not out.get("forgotten"),
        "learned": caps.learned,
        "summary": caps.describe(),
    }
    out["usable"] = usable
    return out
