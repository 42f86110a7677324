"""`lit2code templates ...` and `lit2code eval ...`: thin commands over agent.workflow's tools."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent import digest
from agent.cli.common import app, choice, default, fail, run_config
from agent.families import FamilyError, FamilySpec, load_families
from agent.registry import SANDBOXES
from agent.sandbox import SandboxError, get_sandbox
from agent.workflow import runs

eval_app = typer.Typer(help="Evaluate parts of the pipeline.", no_args_is_help=True)
templates_app = typer.Typer(help="The method-family templates.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(templates_app, name="templates")

BACKEND = typer.Option(**choice(SANDBOXES), help="the sandbox backend that runs the tests")


def _families() -> dict[str, FamilySpec]:
    try:
        return load_families()
    except FamilyError as exc:
        raise fail(str(exc)) from exc


@templates_app.command("list")
def templates_list() -> None:
    """List the method families and their options."""
    table = Table("family", "default method", "options", "description")
    for f in _families().values():
        table.add_row(f.id, f.default_method, ", ".join(f.options), f.description.split(". ")[0])
    Console().print(table)


@templates_app.command("check")
def templates_check(
    family: Annotated[list[str] | None, typer.Option(help="check only this family (repeatable)")] = None,
    sandbox: Annotated[str, BACKEND] = "process",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render every family with every option combination and run its tests in the sandbox."""
    from agent.workflow.templates_check import check_all

    started = time.monotonic()
    try:
        results = check_all(_families(), get_sandbox(sandbox), family)
    except SandboxError as exc:
        raise fail(f"sandbox: {exc}", code=1) from exc
    if as_json:
        print(json.dumps([r.model_dump() for r in results], indent=2))
    else:
        for r in results:
            mark = "ok  " if r.ok else "FAIL"
            print(
                f"{mark} {r.family:20} {r.hyperparameters:11} options={','.join(r.options) or '-':40} "
                f"{r.passed} passed {r.failed} failed"
            )
            if r.error and not r.ok:
                print("     " + r.error.strip().replace("\n", "\n     ")[-1500:])
        print(f"{sum(r.ok for r in results)}/{len(results)} combinations passed in {time.monotonic() - started:.1f}s")
    raise typer.Exit(0 if results and all(r.ok for r in results) else 1)


@eval_app.command("mutants")
def eval_mutants(
    family: Annotated[list[str] | None, typer.Option(help="score only this family (repeatable)")] = None,
    sandbox: Annotated[str, BACKEND] = "process",
    max_mutants: Annotated[int, typer.Option(help="sample at most this many mutants per family (0: all)")] = 80,
    as_json: Annotated[bool, typer.Option("--json", help="a list of {family, score, killed, total}")] = False,
) -> None:
    """Mutation-test each family's tests against its rendered module."""
    from agent.workflow.mutants import FamilyScore, score_families

    def show(s: FamilyScore) -> None:
        if as_json:
            return
        if s.error:
            print(f"{s.family:20} error: {s.error}", flush=True)
            return
        print(f"{s.family:20} {s.killed:4}/{s.total:<4} killed  score {s.score:.2f}", flush=True)
        for line in s.survivors:
            print(f"    survived: {line}")

    try:
        scores = score_families(_families(), get_sandbox(sandbox), family, max_mutants or None, on_score=show)
    except SandboxError as exc:
        raise fail(f"sandbox: {exc}", code=1) from exc
    if as_json:
        print(json.dumps([s.model_dump(exclude={"survivors"}, exclude_none=True) for s in scores], indent=2))
    raise typer.Exit(1 if any(s.error for s in scores) else 0)


@eval_app.command("triage")
def eval_triage(
    digests: Annotated[list[Path], typer.Argument(help="digest files")],
    labels: Annotated[Path, typer.Option(help="JSON list of {title, acceptable: \\[family|skip, ...]}")],
    holdout: Annotated[
        str | None, typer.Option(help="score only the papers labelled with this digest (the one not tuned on)")
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(help=f"a pick below this counts as a skip, as in `run` ({default('min_confidence')})"),
    ] = None,
) -> None:
    """Score the planner's triage against labelled papers; prints JSON."""
    from agent.workflow.evaluate import evaluate_triage

    threshold = run_config(run_id="eval", inputs=[], repo="", min_confidence=min_confidence).min_confidence
    try:
        result = evaluate_triage(digests, labels, holdout=holdout, min_confidence=threshold)
    except (digest.DigestError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    print(json.dumps(result, indent=2))


@eval_app.command("report")
def eval_report(
    run_id: str,
    labels: Annotated[Path, typer.Option(help="JSON list of {title, acceptable: \\[family|skip, ...]}")],
) -> None:
    """Check that a run committed each labelled paper under a family its labels accept; prints JSON."""
    from agent.workflow.evaluate import evaluate_report

    rep_file = runs.run_dir(run_id) / "report.json"
    if not rep_file.exists():
        raise fail(f"no report for run {run_id!r} at {rep_file}")
    try:
        result = evaluate_report(json.loads(rep_file.read_text()), labels)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    print(json.dumps(result, indent=2))
