"""Every `LIT2CODE_*` setting, read in one place (pydantic-settings: the environment, then `.env`).

`Settings()` is cheap and reads the environment when it is made, so a test's `monkeypatch.setenv` or a
server's own environment is seen by the next call of `settings()`. The model settings (`OPENAI_*` and
`LIT2CODE_LLM_*`) are `Settings().llm`; `OPENAI_BASE_URL` / `OPENAI_API_KEY` keep the names every
OpenAI-compatible client reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
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


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lit2code"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIT2CODE_", env_file=".env", extra="ignore")

    runs_dir: Path = Field(default=Path("runs"), description="where run folders live")
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="the sandbox runtime, the wheelhouse and the model response cache",
    )
    templates: Path | None = Field(default=None, description="the templates folder (default: the checkout's)")
    sandbox_dir: Path | None = Field(default=None, description="the sandbox folder (default: the checkout's)")
    runtime: Path | None = Field(default=None, description="an existing runtime of generated code to use")
    sandbox_image: str | None = Field(default=None, description="the CPU sandbox image tag (default: computed)")
    sandbox_image_gpu: str | None = Field(default=None, description="the GPU sandbox image tag (default: computed)")
    sandbox_cpus: float | None = Field(default=None, gt=0, description="CPUs per sandbox container")
    repo: Path = Field(default=Path("runs/studio-repo"), description="the generated repo of `langgraph dev` runs")

    # GitHub-triggered runs (lit2code serve, lit2code github action). Secrets are SecretStr: never printed.
    github_api_url: str = Field(default="https://api.github.com", description="GitHub's REST API (or a GHES one)")
    github_app_id: str | None = Field(default=None, description="the GitHub App's id (App authentication)")
    github_private_key: SecretStr | None = Field(default=None, description="the App's private key (PEM)")
    github_private_key_file: Path | None = Field(default=None, description="a file holding the App's private key")
    github_token: SecretStr | None = Field(default=None, description="a fine-grained personal access token")
    github_webhook_secret: SecretStr | None = Field(default=None, description="verifies X-Hub-Signature-256")
    github_repos: str = Field(default="", description="comma-separated owner/name allow-list ('' = any)")
    github_workers: int = Field(default=2, ge=1, le=32, description="jobs run at once (one per repository)")
    public_url: str | None = Field(default=None, description="where `lit2code serve` is reachable, for links")

    def allowed_repos(self) -> set[str]:
        return {r.strip().lower() for r in self.github_repos.split(",") if r.strip()}

    def app_private_key(self) -> str | None:
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value()
        if self.github_private_key_file is not None:
            return self.github_private_key_file.read_text()
        return None

    @property
    def llm(self) -> LLMSettings:
        return LLMSettings()

    def llm_cache_path(self) -> Path:
        return self.cache_dir / "llm-cache.sqlite"


def settings() -> Settings:
    return Settings()


CHECKOUT = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    return settings().templates or CHECKOUT / "templates"


def sandbox_dir() -> Path:
    return settings().sandbox_dir or CHECKOUT / "sandbox"
