"""Model settings from the environment and a `.env` file (pydantic-settings).

`OPENAI_BASE_URL` / `OPENAI_API_KEY` are the names every OpenAI-compatible client reads; the rest
are lit2code's own and start with `LIT2CODE_`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Price(BaseModel):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class LLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "base_url"))
    api_key: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "api_key"))
    model: str | None = Field(default=None, validation_alias=AliasChoices("LIT2CODE_MODEL", "model"))
    timeout_s: float = Field(default=120.0, gt=0, validation_alias=AliasChoices("LIT2CODE_LLM_TIMEOUT", "timeout_s"))
    max_retries: int = Field(
        default=3, ge=0, le=10, validation_alias=AliasChoices("LIT2CODE_LLM_MAX_RETRIES", "max_retries")
    )
    temperature: float = Field(
        default=0.0, ge=0, le=2, validation_alias=AliasChoices("LIT2CODE_LLM_TEMPERATURE", "temperature")
    )
    max_completion_tokens: int = Field(
        default=4096, gt=0, validation_alias=AliasChoices("LIT2CODE_LLM_MAX_COMPLETION_TOKENS", "max_completion_tokens")
    )
    # auto: JSON-schema structured output, stepping down to JSON mode, then to plain text with JSON
    # extraction, as the server refuses them (agent.llm.capabilities); the others: that one only.
    response_format: Literal["auto", "json_schema", "json_object", "text"] = Field(
        default="auto", validation_alias=AliasChoices("LIT2CODE_LLM_RESPONSE_FORMAT", "response_format")
    )
    # The model's context in tokens, for servers that do not report it (llama.cpp and vLLM do); when
    # both say, the smaller wins.
    context: int | None = Field(default=None, gt=0, validation_alias=AliasChoices("LIT2CODE_LLM_CONTEXT", "context"))
    # Overrides of and additions to the built-in price table (USD per million tokens), e.g.
    # LIT2CODE_PRICES='{"my-model": {"input": 0.2, "output": 0.6}}'
    prices: dict[str, Price] = Field(default_factory=dict, validation_alias=AliasChoices("LIT2CODE_PRICES", "prices"))
    cache_dir: Path | None = Field(default=None, validation_alias=AliasChoices("LIT2CODE_CACHE_DIR", "cache_dir"))

    def cache_path(self) -> Path:
        root = self.cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lit2code"
        return root / "llm-cache.sqlite"
