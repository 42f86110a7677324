"""One place where lit2code talks to a model: an OpenAI-compatible chat endpoint through the `openai` SDK.

Every answer is a pydantic model. `ask()` adds what a batch tool needs around a call:
- the response cache (a hit costs nothing and makes no call),
- the budget (`--max-cost` / `--max-tokens`: no new call once reached),
- structured output (JSON schema), or JSON mode where the server lacks it, with one corrective retry
  when an answer is not valid JSON or not valid against the schema,
- accounting per call (runs/RUN_ID/llm_calls.jsonl) and per paper (tokens, latency, cost),
- clear errors for refusals, empty, truncated or absurdly large answers and transport failures.
The SDK itself retries 429, 5xx, timeouts and connection errors with backoff (`max_retries`); other
4xx errors are not retried, since asking again would not change them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from agent.llm.cache import ResponseCache, cache_key
from agent.llm.prices import cost_usd, price_for
from agent.models import LLMUsage
from agent.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)

MAX_ANSWER_CHARS = 200_000  # far above any plan; a bigger answer is a runaway, not a plan
_REFUSAL = re.compile(r"^\s*(?:i'?m sorry|i am sorry|i can(?:no|')t|i won'?t|i am unable|i'?m unable|as an ai)\b", re.I)


class LLMError(RuntimeError):
    """A model call that gave no usable answer; `kind` says why (for the paper's reason)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BudgetExceeded(LLMError):
    def __init__(self, message: str) -> None:
        super().__init__("budget", message)


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
    ) -> None:
        self.settings = settings
        self.model = model
        self.price = price_for(model, settings.prices)
        self.sdk = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",  # local servers take any key
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )
        self.mode = "json_object" if settings.response_format == "json_object" else "json_schema"
        self.ledger = ledger
        self.budget = budget or Budget()
        self.cache = cache or ResponseCache(None)
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
        content, answer, error = self._call(paper_id, stage, messages, schema)
        if answer is None:
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
            content, answer, error2 = self._call(paper_id, f"{stage}-retry", retry, schema)
            if answer is None:
                raise LLMError("invalid", f"model answer for {stage} is {error2} (after one corrective retry)")
        self.cache.put(key, self.model, schema.__name__, _strip_fence(content))
        return answer

    def _call(
        self, paper_id: str, stage: str, messages: list[dict[str, Any]], schema: type[T]
    ) -> tuple[str, T | None, str]:
        """One request; returns (content, answer or None, what was wrong). Raises LLMError when hopeless."""
        why = self.budget.exceeded()
        if why:
            raise BudgetExceeded(why)
        rec = CallRecord(paper_id, stage, self.model, mode=self.mode)
        t0 = time.monotonic()
        try:
            completion = self._request(messages, schema)
        except openai.APIStatusError as exc:
            rec.latency_s = time.monotonic() - t0
            self._record(rec, error=f"HTTP {exc.status_code}")
            raise LLMError(
                "transport", f"model server answered HTTP {exc.status_code} for {stage}: {_brief(exc)}"
            ) from exc
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            rec.latency_s = time.monotonic() - t0
            self._record(rec, error=type(exc).__name__)
            raise LLMError(
                "transport",
                f"model server unreachable or too slow for {stage} after {self.settings.max_retries} retries "
                f"({type(exc).__name__}: {exc}); check OPENAI_BASE_URL ({self.settings.base_url or 'default'})",
            ) from exc
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            rec.latency_s = time.monotonic() - t0
            self._record(rec, error="malformed body")
            raise LLMError("transport", f"model server sent a malformed response body for {stage}: {exc}") from exc
        rec.latency_s = time.monotonic() - t0
        try:
            usage = getattr(completion, "usage", None)
            choice = completion.choices[0] if completion.choices else None
            content = str(choice.message.content or "") if choice else ""
            refusal = getattr(choice.message, "refusal", None) if choice else None
        except (AttributeError, TypeError, IndexError) as exc:
            self._record(rec, error="malformed body")
            raise LLMError("transport", f"model server sent a response that is not a chat completion ({exc})") from exc
        if usage is not None:
            rec.prompt_tokens, rec.completion_tokens = usage.prompt_tokens or 0, usage.completion_tokens or 0
        else:  # some servers omit usage: estimate (4 characters a token) rather than count nothing
            rec.prompt_tokens = sum(len(str(m["content"])) for m in messages) // 4
            rec.completion_tokens = len(content) // 4
        rec.cost_usd = cost_usd(self.price, rec.prompt_tokens, rec.completion_tokens)

        def fail(kind: str, message: str) -> LLMError:
            self._record(rec, error=kind)
            return LLMError(kind, message)

        if refusal or (content and _REFUSAL.match(content) and not content.lstrip().startswith("{")):
            raise fail("refused", f"model refused the {stage} request: {(refusal or content).strip()[:200]}")
        if choice is not None and choice.finish_reason == "length":
            raise fail(
                "truncated",
                f"model answer for {stage} was cut off at {self.settings.max_completion_tokens} tokens "
                "(raise LIT2CODE_LLM_MAX_COMPLETION_TOKENS)",
            )
        if len(content) > MAX_ANSWER_CHARS:
            raise fail("too_large", f"model answer for {stage} is {len(content)} characters; refusing to parse it")
        if not content.strip():
            self._record(rec, error="empty")
            return content, None, "empty"
        try:
            answer = schema.model_validate_json(_strip_fence(content))
        except ValidationError as exc:
            what = _first_error(exc)
            self._record(rec, error=what[:200])
            return content, None, what
        self._record(rec)
        return content, answer, ""

    def _request(self, messages: list[dict[str, Any]], schema: type[BaseModel]) -> Any:
        common: dict[str, Any] = {
            "model": self.model,
            "temperature": self.settings.temperature,
            "max_completion_tokens": self.settings.max_completion_tokens,
        }
        if self.mode == "json_schema":
            try:
                return self.sdk.chat.completions.create(
                    messages=messages,  # type: ignore[arg-type]
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": schema.__name__, "schema": _strict(schema), "strict": True},
                    },
                    **common,
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self.settings.response_format == "json_schema":
                    raise
                # The server has no structured outputs: JSON mode with the schema in the prompt from now on.
                if not re.search(r"response_format|json_schema|schema|structured", _brief(exc), re.I):
                    raise
                self.mode = "json_object"
        with_schema = [
            *messages[:-1],
            {
                "role": messages[-1]["role"],
                "content": f"{messages[-1]['content']}\n\nAnswer with one JSON object valid against this JSON "
                f"schema:\n{_schema_text(schema)}",
            },
        ]
        return self.sdk.chat.completions.create(
            messages=with_schema,  # type: ignore[arg-type]
            response_format={"type": "json_object"},
            **common,
        )


def _strict(schema: type[BaseModel]) -> dict[str, Any]:
    """The schema in OpenAI's strict form (every property required, no additional properties)."""
    from openai.lib._pydantic import to_strict_json_schema  # the SDK's own converter, as parse() uses

    return to_strict_json_schema(schema)


def _strip_fence(content: str) -> str:
    """Some servers wrap JSON in a markdown fence even in JSON mode."""
    m = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", content, re.S)
    return m.group(1) if m else content


def _brief(exc: openai.APIStatusError) -> str:
    """The server's own error message when its body has one (OpenAI: {"error": {"message": ...}})."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"])[:300]
    return str(exc)[:300]
