"""The `lit2code` command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent import digest, runs
from agent.families import FamilyError, load_families
from agent.llm.cli import llm_app
from agent.models import ReviewAnswer, RunConfig
from agent.progress import RunProgress
from agent.repo import RepoError
from agent.sandbox.base import SandboxError

app = typer.Typer(
    help="lit2code: turn a digest of ML papers into validated, committed code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Evaluate parts of the pipeline.", no_args_is_help=True)
templates_app = typer.Typer(help="The method-family templates.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(templates_app, name="templates")
app.add_typer(llm_app, name="llm")
try:
    from agent.sandbox.cli import sandbox_app

    app.add_typer(sandbox_app, name="sandbox")
except ImportError:  # pragma: no cover - the sandbox commands ship with the docker backend
    pass

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error and return the Exit to raise (2 = usage or input error)."""
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def resolve_sandbox(choice: str, planner: str) -> str:
    """auto = docker when a daemon and the image answer; LLM code never falls back to `process` silently."""
    if choice in {"docker", "process"}:
        return choice
    try:
        from agent.sandbox.docker_backend import docker_ready

        ready, why = docker_ready()
    except ImportError:
        ready, why = False, "the docker backend is not installed"
    if ready:
        return "docker"
    if planner == "llm":
        raise fail(
            f"model-written code runs only in Docker, and Docker is not ready ({why}); "
            "fix that (`lit2code sandbox doctor`) or pass --sandbox process explicitly"
        )
    err.print(f"[yellow]note:[/] Docker not ready ({why}); using the process backend for template code")
    return "process"


def _finish(rep, pending, as_json: bool, run_id: str) -> None:
    t = rep.totals
    if as_json:
        print(json.dumps(rep.model_dump(mode="json"), indent=2))
    else:
        err.print(
            f"[bold]run {run_id}[/]: {t.papers} papers: [green]{t.committed} committed[/], {t.skipped} skipped, "
            f"[red]{t.failed} failed[/], {t.rejected} rejected, {t.pending} pending review"
        )
        if rep.llm.calls or rep.llm.cached:
            u = rep.llm
            err.print(
                f"model: {u.calls} calls ({u.cached} from the cache), {u.prompt_tokens} prompt + "
                f"{u.completion_tokens} completion tokens, ${u.cost_usd:.4f}"
            )
        if rep.budget:
            err.print(f"[yellow]budget:[/] {rep.budget}; papers marked `budget` were not processed")
        err.print(f"report: {runs.run_dir(run_id) / 'report.md'}  repository: {rep.repo}")
        if pending:
            err.print(f"{len(pending)} review(s) pending: answer them with `lit2code review {run_id}`")


def _drive(config: RunConfig, as_json: bool, resume=None) -> None:
    console = Console(stderr=True)
    try:
        with RunProgress(console, enabled=not as_json and console.is_terminal) as prog:
            rep, pending = asyncio.run(runs.execute(config, resume=resume, on_event=prog.on_event))
    except (RepoError, FamilyError) as exc:
        raise fail(str(exc)) from exc
    except SandboxError as exc:
        raise fail(f"sandbox: {exc}", code=1) from exc
    except digest.DigestError as exc:
        raise fail(str(exc)) from exc
    _finish(rep, pending, as_json, config.run_id)


def _check_llm_settings(model: str | None) -> str:
    """The model name, after checking the model settings (env / .env) parse; exit 2 naming what is wrong."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from agent.llm.settings import LLMSettings

    try:
        settings = LLMSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"model settings: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
    except SettingsError as exc:  # e.g. LIT2CODE_PRICES that is not JSON
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise fail(f"model settings: {exc}{cause}; check the LIT2CODE_* and OPENAI_* variables and .env") from exc
    name = model or settings.model
    if not name:
        raise fail("--planner llm needs a model: pass --model NAME or set LIT2CODE_MODEL")
    if not settings.base_url and not settings.api_key:
        raise fail(
            "--planner llm needs OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a vLLM, Ollama or other "
            "OpenAI-compatible server); set them in the environment or a .env file"
        )
    return name


@app.command()
def run(
    inputs: Annotated[list[Path], typer.Argument(help="digest files: Daily Papers text, HF JSON, arXiv Atom, JSONL")],
    repo: Annotated[Path, typer.Option(help="the generated repository (created when missing)")] = Path(
        "runs/papers-impl"
    ),
    planner: Annotated[str, typer.Option(help="offline (no model) or llm")] = "offline",
    model: Annotated[str | None, typer.Option(help="model name for --planner llm")] = None,
    sandbox: Annotated[str, typer.Option(help="auto, docker or process")] = "auto",
    gpu: Annotated[str, typer.Option(help="auto, on or off")] = "auto",
    concurrency: Annotated[int, typer.Option(help="papers processed at once (default: CPU count)")] = 0,
    interactive: Annotated[bool, typer.Option(help="pause for a review of each plan and each result")] = False,
    timeout: Annotated[float, typer.Option(help="seconds allowed for one module's tests")] = 300.0,
    memory: Annotated[str, typer.Option(help="memory limit for one module's tests")] = "4g",
    max_repairs: Annotated[int, typer.Option(help="repair attempts per paper (llm planner)")] = 2,
    max_cost: Annotated[
        float | None, typer.Option(help="USD: no new model call once the run has spent this (llm planner)")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="tokens: no new model call once the run has used this many (llm planner)")
    ] = None,
    cache: Annotated[bool, typer.Option(help="answer repeated model requests from the response cache")] = True,
    on_bad_answer: Annotated[
        str,
        typer.Option(
            help="llm planner: when a paper's answer stays unusable after the corrective retry, 'offline' "
            "plans it with the offline planner (recorded as a fallback), 'fail' fails it"
        ),
    ] = "offline",
    run_id: Annotated[str | None, typer.Option(help="name the run (default: a timestamp)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json to stdout instead of a summary")] = False,
) -> None:
    """Process digests: triage, plan, render, validate and commit every paper."""
    if planner not in {"offline", "llm"}:
        raise fail(f"--planner must be offline or llm, not {planner!r}")
    if planner == "llm":
        model = _check_llm_settings(model)
    if max_repairs < 0:
        raise fail("--max-repairs must be 0 or more")
    if (max_cost is not None and max_cost < 0) or (max_tokens is not None and max_tokens < 0):
        raise fail("--max-cost and --max-tokens must be positive")
    if gpu not in {"auto", "on", "off"}:
        raise fail(f"--gpu must be auto, on or off, not {gpu!r}")
    if sandbox not in {"auto", "docker", "process"}:
        raise fail(f"--sandbox must be auto, docker or process, not {sandbox!r}")
    if concurrency < 0:
        raise fail("--concurrency must be positive")
    if on_bad_answer not in {"offline", "fail"}:
        raise fail(f"--on-bad-answer must be offline or fail, not {on_bad_answer!r}")
    try:
        papers = digest.load_inputs(inputs)  # fail fast, before a run folder exists
    except digest.DigestError as exc:
        raise fail(str(exc)) from exc
    rid = run_id or runs.new_run_id()
    if runs.run_dir(rid).exists():
        raise fail(f"run {rid} already exists; continue it with `lit2code resume {rid}`")
    config = RunConfig(
        run_id=rid,
        inputs=[str(p.resolve()) for p in inputs],
        repo=str(repo.resolve()),
        planner=planner,  # type: ignore[arg-type]
        model=model,
        sandbox=resolve_sandbox(sandbox, planner),
        gpu=gpu,  # type: ignore[arg-type]
        timeout_s=timeout,
        memory=memory,
        concurrency=concurrency or os.cpu_count() or 2,
        interactive=interactive,
        max_repairs=max_repairs,
        max_cost=max_cost,
        max_tokens=max_tokens,
        cache=cache,
        on_bad_answer=on_bad_answer,  # type: ignore[arg-type]
    )
    runs.save_config(config)
    if not as_json:
        err.print(
            f"run [bold]{rid}[/]: {len(papers)} papers from {len(inputs)} input(s) -> {config.repo} "
            f"(planner {planner}{f' {model}' if model else ''}, sandbox {config.sandbox})"
        )
    _drive(config, as_json)


@app.command()
def resume(
    run_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json to stdout")] = False,
) -> None:
    """Continue an interrupted run from its checkpoints."""
    try:
        config = runs.load_config(run_id)
    except runs.RunError as exc:
        raise fail(str(exc)) from exc
    _drive(config, as_json)


@app.command()
def review(
    run_id: str,
    approve_all: Annotated[bool, typer.Option(help="approve every pending review without asking")] = False,
) -> None:
    """Answer the pending reviews of an --interactive run, then continue it."""
    try:
        config = runs.load_config(run_id)
    except runs.RunError as exc:
        raise fail(str(exc)) from exc
    while True:
        pending = asyncio.run(runs.pending_interrupts(config))
        if not pending:
            err.print(f"run {run_id} has no pending reviews")
            return
        answers: dict[str, dict] = {}
        for iid, req in pending.items():
            if approve_all:
                answers[iid] = ReviewAnswer(action="approve").model_dump(mode="json")
                continue
            if not sys.stdin.isatty():
                raise fail("review needs a terminal; pass --approve-all to approve everything")
            err.rule(f"{req.kind} review: {req.title} ({req.paper_id})")
            err.print_json(
                req.plan.model_dump_json(
                    include={
                        "family",
                        "method_name",
                        "class_name",
                        "hyperparameters",
                        "options",
                        "not_implemented",
                        "slots",
                    }
                )
            )
            if req.validation:
                err.print(f"validation: ok={req.validation.ok} {req.validation.tests.passed} passed")
            choice = typer.prompt("approve / reject / feedback / quit", default="approve")
            if choice.startswith("q"):
                break
            if choice.startswith("r"):
                answers[iid] = ReviewAnswer(action="reject", feedback="rejected by reviewer").model_dump(mode="json")
            elif choice.startswith("f"):
                note = typer.prompt("feedback")
                answers[iid] = ReviewAnswer(action="feedback", feedback=note).model_dump(mode="json")
            else:
                answers[iid] = ReviewAnswer(action="approve").model_dump(mode="json")
        if not answers:
            err.print("nothing answered; the run stays paused")
            return
        _drive(config, False, resume=answers)


@app.command()
def status(
    run_id: Annotated[str | None, typer.Argument(help="a run id (default: list all runs)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a run's report, or list runs."""
    if run_id is None:
        rows = []
        for rid in runs.list_runs():
            rep_file = runs.run_dir(rid) / "report.json"
            rep = json.loads(rep_file.read_text()) if rep_file.exists() else None
            rows.append({"run_id": rid, "finished_at": rep and rep["finished_at"], "totals": rep and rep["totals"]})
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table("run", "finished", "papers", "committed", "skipped", "failed", "pending")
        for r in rows:
            t = r["totals"] or {}
            table.add_row(
                r["run_id"],
                r["finished_at"] or "no",
                *(str(t.get(k, "")) for k in ("papers", "committed", "skipped", "failed", "pending")),
            )
        Console().print(table)
        return
    rep_file = runs.run_dir(run_id) / "report.json"
    if not rep_file.exists():
        raise fail(f"no report for run {run_id!r} at {rep_file}")
    if as_json:
        print(rep_file.read_text(), end="")
    else:
        print((runs.run_dir(run_id) / "report.md").read_text(), end="")


@templates_app.command("list")
def templates_list() -> None:
    """List the method families and their options."""
    try:
        fams = load_families()
    except FamilyError as exc:
        raise fail(str(exc)) from exc
    table = Table("family", "default method", "options", "description")
    for f in fams.values():
        table.add_row(f.id, f.default_method, ", ".join(f.options), f.description.split(". ")[0])
    Console().print(table)


@templates_app.command("check")
def templates_check(
    family: Annotated[list[str] | None, typer.Option(help="check only this family (repeatable)")] = None,
    sandbox: Annotated[str, typer.Option(help="process or docker")] = "process",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Render every family with every option combination and run its tests in the sandbox."""
    from agent import templates_check as tc

    args = [f"--family={f}" for f in family or []] + [f"--sandbox={sandbox}"] + (["--json"] if as_json else [])
    raise typer.Exit(tc.main(args))


@eval_app.command("mutants")
def eval_mutants(
    family: Annotated[list[str] | None, typer.Option(help="score only this family (repeatable)")] = None,
    sandbox: Annotated[str, typer.Option(help="process or docker")] = "process",
    max_mutants: Annotated[int, typer.Option(help="sample at most this many mutants per family (0: all)")] = 80,
    as_json: Annotated[bool, typer.Option("--json", help="a list of {family, score, killed, total}")] = False,
) -> None:
    """Mutation-test each family's tests against its rendered module."""
    from agent import mutants

    args = [f"--family={f}" for f in family or []] + [f"--sandbox={sandbox}", f"--max-mutants={max_mutants}"]
    raise typer.Exit(mutants.main(args + (["--json"] if as_json else [])))


@eval_app.command("triage")
def eval_triage(
    digests: Annotated[list[Path], typer.Argument(help="digest files")],
    labels: Annotated[Path, typer.Option(help="JSON list of {title, acceptable: [family|skip, ...]}")],
) -> None:
    """Score the planner's triage against labelled papers; prints JSON."""
    from agent.evaluate import evaluate_triage

    try:
        result = evaluate_triage(digests, labels)
    except (digest.DigestError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    print(json.dumps(result, indent=2))


@eval_app.command("report")
def eval_report(
    run_id: str,
    labels: Annotated[Path, typer.Option(help="JSON list of {title, acceptable: [family|skip, ...]}")],
) -> None:
    """Check that a run committed each labelled paper under a family its labels accept; prints JSON."""
    from agent.evaluate import evaluate_report

    rep_file = runs.run_dir(run_id) / "report.json"
    if not rep_file.exists():
        raise fail(f"no report for run {run_id!r} at {rep_file}")
    try:
        result = evaluate_report(json.loads(rep_file.read_text()), labels)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    print(json.dumps(result, indent=2))


def main() -> None:  # pragma: no cover
    app()
