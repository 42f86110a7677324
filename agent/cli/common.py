"""What every command shares: the Typer app, the error console, one-line failures, RunConfig from flags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console

from agent.models import RunConfig
from agent.settings import Settings

app = typer.Typer(
    help="lit2code: turn a digest of ML papers into validated, committed code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

# RunConfig fields whose command-line flag is not --FIELD-NAME.
FLAGS = {"timeout_s": "--timeout", "run_id": "--run-id", "cache": "--cache/--no-cache"}


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error and return the Exit to raise (2 = usage or input error, 1 = anything else)."""
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def choice(names: Iterable[str]) -> dict[str, Any]:
    """typer.Option arguments for a choice among `names` (a registry's keys): parsed, shown in --help."""
    allowed = list(names)

    def parse(value: str) -> str:
        if value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return {"parser": parse, "metavar": "|".join(allowed)}


def flag(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def default(field: str) -> str:
    """A RunConfig default as help text shows it (RunConfig owns every default)."""
    info = RunConfig.model_fields[field]
    value = info.get_default(call_default_factory=True)
    return f"default: {value}" if value is not None else "default: none"


def run_config(**given: Any) -> RunConfig:
    """A RunConfig from the options the user gave (None = not given: RunConfig's default applies).
    A value RunConfig refuses exits 2 naming the flag."""
    try:
        return RunConfig(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "string_pattern_mismatch" and field in RunConfig.model_fields:
            msg = f"use {RunConfig.model_fields[field].description}"
        raise fail(f"{flag(field)} {given.get(field)!r}: {msg}") from exc


def load_settings(model: bool = False) -> Settings:
    """The settings (with `model`, the model settings too), or exit 2 naming what does not parse."""
    what = "model settings" if model else "settings"
    try:
        env = Settings()
        if model:
            env.llm  # noqa: B018 - parses OPENAI_* and LIT2CODE_LLM_* now, not in the first paper
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"{what}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    except SettingsError as exc:  # e.g. LIT2CODE_PRICES that is not JSON
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise fail(f"{what}: {exc}{cause}; check the LIT2CODE_* and OPENAI_* variables and .env") from exc
    return env
