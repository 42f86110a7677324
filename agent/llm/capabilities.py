"""What an OpenAI-compatible server supports, found out by asking and remembered per (server, model).

Servers differ: some refuse structured outputs (HTTP 400 naming the schema, 422 from a validating
front end, or 500 naming `response_format`), some refuse `strict`, some know only `max_tokens`, and
their models' contexts differ. The client starts from the richest request (a strict JSON schema and
`max_completion_tokens`) and steps down on each refusal that names the part refused:

    json_schema (strict) -> json_schema -> json_object -> plain text + JSON extraction
    max_completion_tokens -> max_tokens

What it learns is saved in the cache database (agent.llm.cache), so a request shape known to fail is
never sent to that (server, model) again, by this process or a later one. The context window comes
from the server where it says (llama.cpp's `/props`, `meta.n_ctx` or vLLM's `max_model_len` in
`/v1/models`), else `LIT2CODE_LLM_CONTEXT`, else from a context-length refusal.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

Format = Literal["json_schema", "json_object", "text"]
Refusal = Literal["context", "token_param", "strict", "json_schema", "json_object"]

DEFAULT_CHARS_PER_TOKEN = 3.0  # below what real tokenizers give for English and code: estimates err long


class Capabilities(BaseModel):
    """The request shape a (server, model) accepts, and what is known of its context."""

    response_format: Format = "json_schema"
    strict: bool = True
    token_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    context: int | None = Field(default=None, description="context tokens, learned from a context refusal")
    chars_per_token: float | None = Field(default=None, description="the lowest ratio seen in the server's usage")
    confirmed: bool = Field(default=False, description="a request of this shape has been answered")
    learned: list[str] = Field(default_factory=list, description="each step down and the refusal that caused it")

    def describe(self) -> str:
        fmt = {"json_schema": "structured outputs (JSON schema)", "json_object": "JSON mode", "text": "plain text"}[
            self.response_format
        ]
        if self.response_format == "json_schema":
            fmt += ", strict" if self.strict else ", not strict"
        return f"{fmt}; {self.token_param}"


_CONTEXT = re.compile(
    r"exceed_context_size|context_length_exceeded|maximum context length|exceeds? the (?:available |maximum )?"
    r"context|context (?:size|length|window) (?:of|is|exceeded)|prompt is too long|too many (?:prompt |input )?tokens",
    re.I,
)
_UNSUPPORTED = (
    r"(?:unrecognized|unknown|unsupported|not supported|not permitted|not allowed|extra_forbidden|extra inputs|"
    r"extra fields|unexpected|invalid (?:field|parameter|argument))"
)
_TOKEN_PARAM = re.compile(
    rf"{_UNSUPPORTED}.{{0,80}}max_completion_tokens|max_completion_tokens.{{0,80}}{_UNSUPPORTED}", re.I | re.S
)
_STRICT = re.compile(r"\bstrict\b", re.I)
_SCHEMA_4XX = re.compile(r"response_format|json_schema|structured[ _-]?outputs?|\bschema\b|grammar", re.I)
_OBJECT_4XX = re.compile(r"response_format|json_object|json[ _-]mode", re.I)
_NAMES_FORMAT = {"json_schema": re.compile(r"response_format|json_schema", re.I), "json_object": None}


def classify(status: int, text: str, caps: Capabilities) -> Refusal | None:
    """Which part of the request a refusal names, or None when it is not a capability refusal.

    400 and 422 name it in their message; a 5xx counts only when it names `response_format` itself
    (some servers crash on it): any other 5xx is a server error, retried as such.
    """
    if status in (400, 413, 422) and _CONTEXT.search(text):
        return "context"
    if status in (400, 422):
        if caps.token_param == "max_completion_tokens" and _TOKEN_PARAM.search(text):
            return "token_param"
        if caps.response_format == "json_schema" and caps.strict and _STRICT.search(text):
            return "strict"
        if caps.response_format == "json_schema" and _SCHEMA_4XX.search(text):
            return "json_schema"
        if caps.response_format == "json_object" and _OBJECT_4XX.search(text):
            return "json_object"
        return None
    if status >= 500:
        if caps.response_format == "json_schema" and re.search(r"response_format|json_schema", text, re.I):
            return "json_schema"
        if caps.response_format == "json_object" and re.search(r"response_format|json_object", text, re.I):
            return "json_object"
    return None


def step_down(caps: Capabilities, refusal: Refusal, why: str, *, formats_fixed: bool) -> Capabilities | None:
    """The next request shape after `refusal`, or None when there is nothing left to try."""
    update: dict[str, Any]
    if refusal == "token_param" and caps.token_param == "max_completion_tokens":
        update = {"token_param": "max_tokens"}
        note = "max_completion_tokens refused: using max_tokens"
    elif refusal == "strict" and caps.response_format == "json_schema" and caps.strict:
        update = {"strict": False}
        note = "strict JSON schema refused: sending the schema without strict"
    elif refusal == "json_schema" and caps.response_format == "json_schema" and not formats_fixed:
        update = {"response_format": "json_object", "strict": False}
        note = "structured outputs refused: JSON mode with the schema in the prompt"
    elif refusal == "json_object" and caps.response_format == "json_object" and not formats_fixed:
        update = {"response_format": "text"}
        note = "JSON mode refused: plain text with the schema in the prompt, JSON extracted from the answer"
    else:
        return None
    return caps.model_copy(update={**update, "confirmed": False, "learned": [*caps.learned, f"{note} ({why})"]})


def error_text(status: int, body: Any, message: str) -> str:
    """Everything a refusal says, for matching: its JSON body (OpenAI's error object, FastAPI's detail
    list, llama.cpp's extra fields) and the SDK's message."""
    try:
        blob = json.dumps(body) if body is not None else ""
    except (TypeError, ValueError):
        blob = str(body)
    return f"HTTP {status} {message} {blob}"


def context_from_refusal(body: Any, text: str) -> tuple[int | None, int | None]:
    """(the context size, the prompt's tokens) a context refusal states, each None when it does not."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    n_ctx = inner.get("n_ctx") if isinstance(inner, dict) else None
    n_prompt = inner.get("n_prompt_tokens") if isinstance(inner, dict) else None
    if not isinstance(n_ctx, int):
        m = re.search(r"maximum context length is (\d+)|context (?:size|length|window)[^\d]{0,20}(\d+)", text, re.I)
        n_ctx = int(m.group(1) or m.group(2)) if m else None
    if not isinstance(n_prompt, int):
        m = re.search(r"resulted in (\d+) tokens|request \((\d+) tokens\)|(\d+) tokens in the messages", text, re.I)
        n_prompt = int(next(g for g in m.groups() if g)) if m else None
    return n_ctx, n_prompt


def server_context(
    base_url: str | None, api_key: str | None, model: str, timeout: float = 5.0
) -> tuple[int | None, str]:
    """The context window the server reports for `model`, and where it said so; (None, '') when it does not.

    llama.cpp: `/props` (per slot: what a request may use) then `/v1/models` `meta.n_ctx`; vLLM:
    `/v1/models` `max_model_len`; others (OpenAI, Ollama's OpenAI API) report none.
    """
    if not base_url:
        return None, ""
    base = base_url.rstrip("/")
    root = re.sub(r"/v1$", "", base)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(timeout=timeout, headers=headers) as http:
            props = _get_json(http, f"{root}/props")
            n = (props or {}).get("default_generation_settings", {}).get("n_ctx") if isinstance(props, dict) else None
            if isinstance(n, int) and n > 0:
                return n, "server /props"
            listing = _get_json(http, f"{base}/models")
    except httpx.HTTPError:
        return None, ""
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        return None, ""
    chosen = [e for e in entries if isinstance(e, dict) and (e.get("id") == model or model in (e.get("aliases") or []))]
    if not chosen and len(entries) == 1 and isinstance(entries[0], dict):
        chosen = entries
    for entry in chosen:
        meta = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
        for value in (meta.get("n_ctx"), entry.get("max_model_len"), entry.get("context_length")):
            if isinstance(value, int) and value > 0:
                return value, "server /v1/models"
    return None, ""


def served_models(base_url: str | None, api_key: str | None, timeout: float = 5.0) -> list[str]:
    """The model ids `/v1/models` lists (an empty list when it lists none or cannot be read)."""
    base = (base_url or "https://api.openai.com/v1").rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(timeout=timeout, headers=headers) as http:
            listing = _get_json(http, f"{base}/models")
    except httpx.HTTPError:
        return []
    entries = listing.get("data") if isinstance(listing, dict) else None
    return [str(e["id"]) for e in entries or [] if isinstance(e, dict) and "id" in e]


def _get_json(http: httpx.Client, url: str) -> Any:
    resp = http.get(url)
    if resp.status_code != 200:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def extract_json(content: str) -> str:
    """The JSON object in a model's text: the whole answer, a fenced block, or the first balanced {...}."""
    text = content.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S)
    if fence:
        text = fence.group(1)
    if text.startswith("{"):
        try:
            json.loads(text)
            return text
        except json.JSONDecodeError:
            pass
    start = text.find("{")
    while start != -1:
        end = _balanced_end(text, start)
        if end is not None:
            candidate = text[start : end + 1]
            try:
                json.loads(candidate)
                return candidate
            except json.JSONDecodeError:
                pass
        start = text.find("{", start + 1)
    return text


def _balanced_end(text: str, start: int) -> int | None:
    depth, in_str, escape = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None
