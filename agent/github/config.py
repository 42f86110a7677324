"""`.lit2code.toml` at a digest repository's root: which paths are digests, where results go, run options.

digests = ["digests/**"]          # globs of digest files (default)
target = "acme/papers-impl"       # the generated repository (default: this repository)
base = "main"                     # the target branch pull requests go to (default: its default branch)

[run]                             # RunConfig options: planner, model, sandbox, gpu, timeout_s, memory,
planner = "offline"               # concurrency, max_repairs, max_cost, max_tokens, min_confidence
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.models import RunConfig

FILE = ".lit2code.toml"
# What a repository (or a comment) may set of a run; the rest (inputs, repo, run id) lit2code decides.
RUN_OPTIONS = {
    "planner", "model", "sandbox", "gpu", "timeout_s", "memory", "concurrency", "max_repairs", "max_cost",
    "max_tokens", "min_confidence",
}  # fmt: skip
_REPO = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")


class ConfigError(ValueError):
    pass


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digests: list[str] = Field(default_factory=lambda: ["digests/**"])
    target: str | None = None
    base: str | None = None
    run: dict[str, Any] = Field(default_factory=dict)

    @field_validator("target")
    @classmethod
    def _repo_name(cls, v: str | None) -> str | None:
        if v is not None and not _REPO.match(v):
            raise ValueError(f"{v!r} is not owner/name")
        return v

    @field_validator("run")
    @classmethod
    def _run_options(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - RUN_OPTIONS)
        if unknown:
            raise ValueError(f"unknown run option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(RUN_OPTIONS))}")
        return v

    def is_digest(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.digests)


def parse(text: str | None) -> RepoConfig:
    """The repository's config (defaults when it has no file); ConfigError naming the problem."""
    if text is None:
        return RepoConfig()
    try:
        data = tomllib.loads(text)
        return RepoConfig.model_validate(data.get("lit2code", data))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"{FILE}: {' '.join(str(exc).split())}") from exc


def run_options(config: RepoConfig, overrides: dict[str, str]) -> dict[str, Any]:
    """The run options of the repository, then a comment's overrides (strings, validated by RunConfig)."""
    unknown = sorted(set(overrides) - RUN_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(RUN_OPTIONS))}")
    options = {**config.run, **overrides}
    try:
        RunConfig(run_id="check", inputs=[], repo="", **options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"run option {first['loc'][0]}: {first['msg']}") from exc
    return options
