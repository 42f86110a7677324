"""`lit2code llm ...`: the model behind `--planner llm`. `doctor` probes the configured endpoint and
says what works there and what lit2code will use (agent.llm.doctor)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import openai
import typer
from rich.console import Console
from rich.table import Table

from agent.cli.common import fail, load_settings
from agent.llm.doctor import diagnose

llm_app = typer.Typer(help="The model behind --planner llm.", no_args_is_help=True)
err = Console(stderr=True)


def _print(result: dict[str, Any]) -> None:
    console = Console()
    console.print(f"endpoint: {result['endpoint']}   model: {result.get('model') or '?'}", highlight=False)
    table = Table("check", "result", "detail")
    marks = {True: "[green]ok[/]", False: "[red]no[/]", None: "[yellow]note[/]"}
    for c in result["checks"]:
        table.add_row(c["check"], marks[c["ok"]], c["detail"])
    console.print(table)
    use = result.get("will_use")
    if use:
        context = f"{use['context']} tokens ({use['context_source']})" if use["context"] else "unknown"
        console.print(
            f"lit2code will use: {use['summary']}; answers up to {use['max_completion_tokens']} tokens; "
            f"context {context}",
            highlight=False,
        )
        for note in use["learned"]:
            console.print(f"  learned: {note}", highlight=False)
    if result.get("error"):
        console.print(f"[red]{result['error']}[/]")
    console.print("[green]usable[/]" if result.get("usable") else "[red]not usable[/]")


@llm_app.command()
def doctor(
    model: Annotated[
        str | None, typer.Option(help="the model (default: LIT2CODE_MODEL, else the only one the server lists)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    forget: Annotated[
        bool, typer.Option(help="forget what was learned about this server and model, and find out again")
    ] = False,
) -> None:
    """Probe the configured endpoint: models, structured output, JSON mode, latency, tokens/s, context."""
    settings = load_settings(model=True).llm
    if not settings.base_url and not settings.api_key:
        raise fail("set OPENAI_BASE_URL (an OpenAI-compatible server: vLLM, Ollama, llama.cpp...) or OPENAI_API_KEY")
    try:
        result = diagnose(settings, model or settings.model, forget=forget)
    except openai.OpenAIError as exc:
        raise fail(f"model server: {exc}", code=1) from exc
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    if result.get("error"):
        raise typer.Exit(2)
    raise typer.Exit(0 if result.get("usable") else 1)
