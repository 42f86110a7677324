"""One place where lit2code talks to a model: an OpenAI-compatible chat endpoint through the `openai` SDK.

Every answer is a pydantic model. `ask()` adds what a batch tool needs around a call:
- the response cache (a hit costs nothing and makes no call),
- the budget (`--max-cost` / `--max-tokens`: no new call once reached),
- the request shape the server accepts (agent.llm.capabilities): structured output (JSON schema),
  stepping down to JSON mode and to plain text with JSON extraction on refusals, learned once per
  (server, model) and remembered, with one corrective retry when an answer is not valid JSON or not
  valid against the schema,
- the context budget: a prompt that cannot fit the model's context is never sent (PromptTooLong,
  which the planner answers with a smaller prompt), and the answer's token limit is clamped to the room left,
- accounting per call (runs/RUN_ID/llm_calls.jsonl) and per paper (tokens as the server counts them,
  latency, cost),
- clear errors for refusals, empty, truncated or absurdly large answers and transport failures.
The SDK itself retries 429, 5xx, timeouts and connection errors with backoff (`max_retries`); other
4xx errors are not retried, since asking again would not change them. Until a request shape has
been answered once, its first try goes without the SDK's retries, so a server that refuses it (even
with a 500) is not asked the same thing again.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from agent.llm.cache import CapabilityStore, ResponseCache, cache_key
from agent.llm.capabilities import (
    DEFAULT_CHARS_PER_TOKEN,
    Capabilities,
    classify,
    context_from_refusal,
    error_text,
    extract_json,
    server_context,
    step_down,
)
from agent.llm.prices import cost_usd, price_for
from agent.models import LLMUsage
from agent.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)

MAX_ANSWER_CHARS = 200_000  # far above any plan; a bigger answer is a runaway, not a plan
MIN_ANSWER_TOKENS = 512  # a prompt must leave at least this much room (or the whole token limit, if smaller)
OPENAI_URL = "https://api.openai.com/v1"
_REFUSAL = re.compile(r"^\s*(?:i'?m sorry|i am sorry|i can(?:no|')t|i won'?t|i am unable|i'?m unable|as an ai)\b", re.I)


class LLMError(RuntimeError):
    """A model call that gave no usable answer; `kind` says why (for the paper's reason)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BudgetExceeded(LLMError):
    def __init__(self, message: str) -> None:
        super().__init__("budget", message)


class PromptTooLong(LLMError):
    """A prompt that cannot fit the model's context with room for the answer; nothing was sent for it
    (or the server refused it), so the caller may try a smaller one."""

    def __init__(self, message: str, needed: int, context: int, source: str) -> None:
        super().__init__("context", message)
        self.needed, self.context, self.source = needed, context, source


@dataclass
class CallRecord:
    paper_id: str
    stage: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False
    ok: bool = True
    mode: str = ""
    error: str | None = None
    usage: str = ""  # "server" when the tokens are the server's count, "estimated" otherwise
    finish_reason: str | None = None
    max_tokens: int | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class Budget:
    """Run-wide limits; what was spent before a crash is read back from the call ledger on resume."""

    def __init__(self, max_cost: float | None = None, max_tokens: int | None = None) -> None:
        self.max_cost, self.max_tokens = max_cost, max_tokens
        self.cost, self.tokens = 0.0, 0
        self._lock = threading.Lock()

    def add(self, cost: float | None, tokens: int) -> None:
        with self._lock:
            self.cost += cost or 0.0
            self.tokens += tokens

    def exceeded(self) -> str | None:
        if self.max_cost is not None and self.cost >= self.max_cost:
            return f"--max-cost ${self.max_cost:g} reached (${self.cost:.4f} spent)"
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"--max-tokens {self.max_tokens} reached ({self.tokens} spent)"
        return None


def _schema_text(schema: type[BaseModel]) -> str:
    return json.dumps(schema.model_json_schema(), sort_keys=True)


def _first_error(exc: ValidationError) -> str:
    errs = exc.errors()
    if any(e["type"] == "json_invalid" for e in errs):
        return "not valid JSON"
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errs[:3]]
    return f"not valid against the {exc.title} schema: " + "; ".join(parts)


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings,
        model: str,
        *,
        ledger: Path | None = None,
        budget: Budget | None = None,
        cache: ResponseCache | None = None,
        capabilities: CapabilityStore | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.server = (settings.base_url or OPENAI_URL).rstrip("/")
        self.price = price_for(model, settings.prices)
        self.sdk = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",  # local servers take any key
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )
        self.ledger = ledger
        self.budget = budget or Budget()
        self.cache = cache or ResponseCache(None)
        self.store = capabilities or CapabilityStore(None)
        self._caps: Capabilities | None = None
        self._probed: tuple[int | None, str] | None = None
        self._learning = threading.Lock()  # one request at a time while the server's capabilities are unknown
        self._usage: dict[str, LLMUsage] = {}
        self._total = LLMUsage()
        self._lock = threading.Lock()
        if ledger is not None and ledger.exists():
            for line in ledger.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                if not rec.get("cached"):
                    self.budget.add(rec.get("cost_usd"), rec.get("prompt_tokens", 0) + rec.get("completion_tokens", 0))

    # -- what the server supports ---------------------------------------------------------------
    @property
    def formats_fixed(self) -> bool:
        """The user chose the response format (LIT2CODE_LLM_RESPONSE_FORMAT): no stepping down from it."""
        return self.settings.response_format != "auto"

    def capabilities(self) -> Capabilities:
        """What this (server, model) is known to accept: remembered from earlier runs, else the richest request."""
        with self._lock:
            if self._caps is None:
                stored = self.store.get(self.server, self.model)
                try:
                    caps = Capabilities.model_validate(stored) if stored else Capabilities()
                except ValidationError:
                    caps = Capabilities()  # written by another version: find out again
                if self.formats_fixed and caps.response_format != self.settings.response_format:
                    caps = caps.model_copy(
                        update={"response_format": self.settings.response_format, "confirmed": False}
                    )
                self._caps = caps
            return self._caps

    def _learn(self, caps: Capabilities) -> None:
        with self._lock:
            changed = caps != self._caps
            self._caps = caps
        if changed:
            self.store.put(self.server, self.model, caps.model_dump(mode="json"))

    def context_window(self) -> tuple[int | None, str]:
        """The model's context in tokens and where that comes from: the smallest of what the server
        reports, LIT2CODE_LLM_CONTEXT and what a context refusal stated; (None, '') when nothing says."""
        if self._probed is None:
            probed = server_context(self.settings.base_url, self.settings.api_key, self.model)
            with self._lock:
                self._probed = probed
        candidates = [
            self._probed,
            (self.settings.context, "LIT2CODE_LLM_CONTEXT"),
            (self.capabilities().context, "the server's context-length refusal"),
        ]
        known = [(n, src) for n, src in candidates if n]
        return min(known) if known else (None, "")

    def estimate_tokens(self, messages: list[dict[str, Any]]) -> int:
        """Prompt tokens, estimated from characters; the ratio is the lowest the server's usage has shown."""
        chars = sum(len(str(m["content"])) for m in messages)
        learned = self.capabilities().chars_per_token
        per_token = learned / 1.1 if learned else DEFAULT_CHARS_PER_TOKEN
        return math.ceil(chars / per_token) + 8 * len(messages) + 16

    def _answer_room(self, stage: str, sent: list[dict[str, Any]]) -> tuple[int, str]:
        """The token limit for the answer, clamped to the context; PromptTooLong when too little is left."""
        limit = self.settings.max_completion_tokens
        context, source = self.context_window()
        if context is None:
            return limit, ""
        needed = self.estimate_tokens(sent)
        room = context - needed
        floor = min(limit, MIN_ANSWER_TOKENS)
        if room < floor:
            raise PromptTooLong(
                f"the {stage} prompt needs about {needed} tokens and its answer up to {floor}, more than the "
                f"model's context of {context} tokens ({source})",
                needed + floor,
                context,
                source,
            )
        if room < limit:
            return room, f" (the model's context of {context} tokens left room for {room})"
        return limit, ""

    # -- accounting ----------------------------------------------------------------------------
    def _record(self, rec: CallRecord, error: str | None = None) -> None:
        """Count a call (or cache hit) for its paper, the run and the budget, and log it; `error` marks it failed."""
        if error is not None:
            rec.ok, rec.error = False, error
        delta = LLMUsage(
            calls=0 if rec.cached else 1,
            cached=1 if rec.cached else 0,
            prompt_tokens=0 if rec.cached else rec.prompt_tokens,
            completion_tokens=0 if rec.cached else rec.completion_tokens,
            cost_usd=0.0 if rec.cached else (rec.cost_usd or 0.0),
            latency_s=round(rec.latency_s, 3),
        )
        with self._lock:
            self._usage[rec.paper_id] = self._usage.get(rec.paper_id, LLMUsage()) + delta
            self._total = self._total + delta
            if self.ledger is not None:
                with self.ledger.open("a") as fh:
                    fh.write(json.dumps(asdict(rec)) + "\n")
        if not rec.cached:
            self.budget.add(rec.cost_usd, rec.prompt_tokens + rec.completion_tokens)

    def take_usage(self, paper_id: str) -> LLMUsage:
        """The usage of `paper_id` since the last take (nodes move it into the paper's state)."""
        with self._lock:
            return self._usage.pop(paper_id, LLMUsage())

    def total(self) -> LLMUsage:
        with self._lock:
            return self._total.model_copy()

    # -- calls ---------------------------------------------------------------------------------
    def ask(self, paper_id: str, stage: str, system: str, user: str, schema: type[T]) -> T:
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        key = cache_key(self.model, messages, {"name": schema.__name__, "schema": schema.model_json_schema()})
        hit = self.cache.get(key)
        if hit is not None:
            try:
                answer = schema.model_validate_json(hit)
            except ValidationError:
                pass  # a schema changed since: ask again
            else:
                self._record(CallRecord(paper_id, stage, self.model, cached=True, mode="cache"))
                return answer
        content, fresh, error = self._call(paper_id, stage, messages, schema)
        if fresh is not None:
            answer = fresh
        else:
            # One corrective retry: show the model its answer and what was wrong with it.
            retry = [
                *messages,
                {"role": "assistant", "content": content[:4000]},
                {
                    "role": "user",
                    "content": f"That answer is {error}. Reply again with only one JSON object that is valid "
                    f"against this JSON schema:\n{_schema_text(schema)}",
                },
            ]
            try:
                content, second, error2 = self._call(paper_id, f"{stage}-retry", retry, schema)
            except PromptTooLong as exc:
                raise LLMError(
                    "invalid", f"model answer for {stage} is {error}; no room for a corrective retry ({exc})"
                ) from exc
            if second is None:
                raise LLMError("invalid", f"model answer for {stage} is {error2} (after one corrective retry)")
            answer = second
        self.cache.put(key, self.model, schema.__name__, extract_json(content))
        return answer

    def _call(
        self, paper_id: str, stage: str, messages: list[dict[str, Any]], schema: type[T]
    ) -> tuple[str, T | None, str]:
        """One answered request; returns (content, answer or None, what was wrong). Raises LLMError when hopeless."""
        why = self.budget.exceeded()
        if why:
            raise BudgetExceeded(why)
        rec = CallRecord(paper_id, stage, self.model)
        try:
            completion, max_tokens, clamp, sent_chars = self._request(rec, messages, schema)
        except openai.APIStatusError as exc:
            self._record(rec, error=f"HTTP {exc.status_code}")
            raise LLMError(
                "transport", f"model server answered HTTP {exc.status_code} for {stage}: {_brief(exc)}"
            ) from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            self._record(rec, error=type(exc).__name__)
            raise LLMError(
                "transport",
                f"model server unreachable or too slow for {stage} after {self.settings.max_retries} retries "
                f"({type(exc).__name__}: {exc}); check OPENAI_BASE_URL ({self.settings.base_url or 'default'})",
            ) from exc
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            self._record(rec, error="malformed body")
            raise LLMError("transport", f"model server sent a malformed response body for {stage}: {exc}") from exc
        try:
            usage = getattr(completion, "usage", None)
            choice = completion.choices[0] if completion.choices else None
            content = str(choice.message.content or "") if choice else ""
            refusal = getattr(choice.message, "refusal", None) if choice else None
            rec.finish_reason = choice.finish_reason if choice else None
        except (AttributeError, TypeError, IndexError) as exc:
            self._record(rec, error="malformed body")
            raise LLMError("transport", f"model server sent a response that is not a chat completion ({exc})") from exc
        if usage is not None and usage.prompt_tokens is not None:
            rec.prompt_tokens, rec.completion_tokens = usage.prompt_tokens or 0, usage.completion_tokens or 0
            rec.usage = "server"
            self._observe_ratio(sent_chars, rec.prompt_tokens)
        else:  # some servers omit usage: estimate (4 characters a token) rather than count nothing
            rec.prompt_tokens = sum(len(str(m["content"])) for m in messages) // 4
            rec.completion_tokens = len(content) // 4
            rec.usage = "estimated"
        rec.cost_usd = cost_usd(self.price, rec.prompt_tokens, rec.completion_tokens)

        def fail(kind: str, message: str) -> LLMError:
            self._record(rec, error=kind)
            return LLMError(kind, message)

        if refusal or (content and _REFUSAL.match(content) and not content.lstrip().startswith("{")):
            raise fail("refused", f"model refused the {stage} request: {(refusal or content).strip()[:200]}")
        if rec.finish_reason == "length":
            raise fail(
                "truncated",
                f"model answer for {stage} was cut off at {max_tokens} tokens{clamp} "
                "(raise LIT2CODE_LLM_MAX_COMPLETION_TOKENS)",
            )
        if len(content) > MAX_ANSWER_CHARS:
            raise fail("too_large", f"model answer for {stage} is {len(content)} characters; refusing to parse it")
        if not content.strip():
            self._record(rec, error="empty")
            return content, None, "empty"
        try:
            answer = schema.model_validate_json(extract_json(content))
        except ValidationError as exc:
            what = _first_error(exc)
            self._record(rec, error=what[:200])
            return content, None, what
        self._record(rec)
        return content, answer, ""

    def _observe_ratio(self, sent: int, prompt_tokens: int) -> None:
        """Keep the lowest characters-per-token ratio the server's counts show (estimates then err long)."""
        if prompt_tokens <= 0 or not sent:
            return
        ratio = round(sent / prompt_tokens, 3)
        current = self.capabilities()
        if current.chars_per_token is None or ratio < current.chars_per_token:
            self._learn(current.model_copy(update={"chars_per_token": ratio}))

    def _request(
        self, rec: CallRecord, messages: list[dict[str, Any]], schema: type[BaseModel]
    ) -> tuple[Any, int, str, int]:
        """Send the request in the shape the server accepts, stepping down on refusals that name a part of it.

        Returns (completion, the answer's token limit, a note when the context clamped it, characters sent).
        `rec` gets the latency and mode; refused requests are logged as calls of their own.
        """
        while True:
            caps = self.capabilities()
            guard = self._learning if not caps.confirmed else contextlib.nullcontext()
            with guard:
                caps = self.capabilities()  # another thread may have learned something meanwhile
                body, sent = self._body(caps, messages, schema)
                max_tokens, clamp = self._answer_room(rec.stage, sent)
                body[caps.token_param] = max_tokens
                sent_chars = sum(len(str(m["content"])) for m in sent)
                rec.mode, rec.max_tokens = caps.response_format, max_tokens
                t0 = time.monotonic()
                try:
                    completion = self._first_try(body) if not caps.confirmed else self._send(body)
                except openai.APIStatusError as exc:
                    rec.latency_s = time.monotonic() - t0
                    text = error_text(exc.status_code, exc.body, exc.message)
                    refusal = classify(exc.status_code, text, caps)
                    if refusal is None:
                        raise
                    brief = f"HTTP {exc.status_code}: {_brief(exc)[:160]}"
                    if refusal == "context":
                        self._record(_refused(rec), error=f"refused by the server: context ({brief})")
                        raise self._context_refusal(caps, exc, text, rec.stage, sent_chars) from exc
                    new = step_down(caps, refusal, brief, formats_fixed=self.formats_fixed)
                    if new is None:
                        raise
                    self._record(_refused(rec), error=f"refused by the server: {refusal} ({brief})")
                    self._learn(new)
                    continue
                rec.latency_s = time.monotonic() - t0
                if not caps.confirmed:
                    caps = caps.model_copy(update={"confirmed": True})
                    self._learn(caps)
                return completion, max_tokens, clamp, sent_chars

    def _send(self, body: dict[str, Any]) -> Any:
        return self.sdk.chat.completions.create(**body)

    def _first_try(self, body: dict[str, Any]) -> Any:
        """A request of a shape never answered yet: once without the SDK's retries (a refusal, even a 500,
        must not be repeated), then, when the failure was not a refusal, with the retries left."""
        try:
            return self.sdk.with_options(max_retries=0).chat.completions.create(**body)
        except openai.APIStatusError as exc:
            if classify(exc.status_code, error_text(exc.status_code, exc.body, exc.message), self.capabilities()):
                raise
            if self.settings.max_retries == 0 or not _retryable(exc.status_code):
                raise
            time.sleep(_retry_after(exc.response))
        except (openai.APITimeoutError, openai.APIConnectionError):
            if self.settings.max_retries == 0:
                raise
            time.sleep(0.5)
        return self.sdk.with_options(max_retries=self.settings.max_retries - 1).chat.completions.create(**body)

    def _context_refusal(
        self, caps: Capabilities, exc: openai.APIStatusError, text: str, stage: str, sent: int
    ) -> PromptTooLong:
        """Learn the context (and the true prompt size) a context refusal states; the error for the caller."""
        n_ctx, n_prompt = context_from_refusal(exc.body, text)
        update: dict[str, Any] = {}
        if n_ctx and (caps.context is None or n_ctx < caps.context):
            update["context"] = n_ctx
        if n_prompt and sent:
            ratio = round(sent / n_prompt, 3)
            if caps.chars_per_token is None or ratio < caps.chars_per_token:
                update["chars_per_token"] = ratio
        if update:
            self._learn(self.capabilities().model_copy(update=update))
        context = n_ctx or self.context_window()[0] or 0
        return PromptTooLong(
            f"the model server refused the {stage} prompt as longer than the model's context"
            + (f" ({n_prompt} tokens" if n_prompt else " (")
            + (f", context {n_ctx} tokens)" if n_ctx else ")"),
            n_prompt or 0,
            context,
            "the server's context-length refusal",
        )

    def probe(self, caps: Capabilities, system: str, user: str, schema: type[T], max_tokens: int) -> Probe:
        """One request in exactly the shape `caps`, without retries, learning or accounting (for the doctor)."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        body, _ = self._body(caps, messages, schema)
        body[caps.token_param] = max_tokens
        t0 = time.monotonic()
        try:
            raw = self.sdk.with_options(max_retries=0).chat.completions.with_raw_response.create(**body)
            completion = raw.parse()
        except openai.APIStatusError as exc:
            text = error_text(exc.status_code, exc.body, exc.message)
            return Probe(
                False,
                time.monotonic() - t0,
                f"HTTP {exc.status_code}: {_brief(exc)[:200]}",
                refusal=classify(exc.status_code, text, caps),
            )
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            return Probe(False, time.monotonic() - t0, f"{type(exc).__name__}: {exc}")
        latency = time.monotonic() - t0
        try:
            timings = json.loads(raw.text).get("timings") or {}  # llama.cpp: generation speed, without the prompt
        except (ValueError, AttributeError):
            timings = {}
        choice = completion.choices[0] if completion.choices else None
        content = str(choice.message.content or "") if choice else ""
        usage = completion.usage
        probe = Probe(
            True,
            latency,
            "",
            finish_reason=choice.finish_reason if choice else None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            generation_tokens_per_s=timings.get("predicted_per_second"),
            content=content,
        )
        try:
            schema.model_validate_json(extract_json(content))
        except ValidationError as exc:
            probe.valid, probe.detail = False, f"answered, but {_first_error(exc)}"
        else:
            probe.valid, probe.detail = True, "answered valid JSON"
        return probe

    def _body(
        self, caps: Capabilities, messages: list[dict[str, Any]], schema: type[BaseModel]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The request for `caps` (without the token limit) and the messages as sent."""
        body: dict[str, Any] = {"model": self.model, "temperature": self.settings.temperature}
        if caps.response_format == "json_schema":
            spec: dict[str, Any] = {"name": schema.__name__, "schema": _strict(schema)}
            if caps.strict:
                spec["strict"] = True
            body["response_format"] = {"type": "json_schema", "json_schema": spec}
            sent = messages
        else:
            # JSON mode or plain text: the schema goes into the prompt, and the answer is validated against it.
            sent = [
                *messages[:-1],
                {
                    "role": messages[-1]["role"],
                    "content": f"{messages[-1]['content']}\n\nAnswer with one JSON object valid against this JSON "
                    f"schema:\n{_schema_text(schema)}",
                },
            ]
            if caps.response_format == "json_object":
                body["response_format"] = {"type": "json_object"}
        body["messages"] = sent
        return body, sent


@dataclass
class Probe:
    """What one doctor request showed."""

    answered: bool
    latency_s: float
    detail: str
    refusal: str | None = None
    valid: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    generation_tokens_per_s: float | None = None
    content: str = ""


def _refused(rec: CallRecord) -> CallRecord:
    """A ledger record for a request the server refused (a call of its own, no tokens)."""
    return CallRecord(rec.paper_id, rec.stage, rec.model, latency_s=rec.latency_s, mode=rec.mode)


def _retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _retry_after(response: Any) -> float:
    """Seconds to wait before retrying, from the response's headers (as the SDK reads them), 0.5 by default."""
    headers = getattr(response, "headers", None) or {}
    try:
        if "retry-after-ms" in headers:
            return min(60.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            return min(60.0, float(headers["retry-after"]))
    except ValueError:
        pass
    return 0.5


def _strict(schema: type[BaseModel]) -> dict[str, Any]:
    """The schema in OpenAI's strict form (every property required, no additional properties)."""
    from openai.lib._pydantic import to_strict_json_schema  # the SDK's own converter, as parse() uses

    return to_strict_json_schema(schema)


def _brief(exc: openai.APIStatusError) -> str:
    """The server's own error message when its body has one (OpenAI: {"error": {"message": ...}})."""
    body = exc.body
    if isinstance(body, dict):
        inner = body["error"] if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"])[:300]
    return str(exc)[:300]
