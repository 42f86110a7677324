"""`lit2code run | resume | review | status`: thin commands over agent.workflow (runs, reviews)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent import digest
from agent.cli.common import app, choice, default, err, fail, load_settings, run_config
from agent.cli.progress import RunProgress
from agent.families import FamilyError
from agent.models import Report, ReviewAnswer, ReviewRequest, RunConfig
from agent.registry import PLANNERS, SANDBOXES
from agent.repo import RepoError
from agent.sandbox import SandboxError
from agent.workflow import reviews, runs

PLANNER = choice(PLANNERS)
SANDBOX = choice(["auto", *SANDBOXES])
GPU = choice(["auto", "on", "off"])


def _finish(rep: Report, pending: list[ReviewRequest], as_json: bool, run_id: str) -> None:
    t = rep.totals
    if as_json:
        print(json.dumps(rep.model_dump(mode="json"), indent=2))
        return
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


def _drive(config: RunConfig, as_json: bool, answers: dict[str, ReviewAnswer] | None = None) -> list[ReviewRequest]:
    """Run (or continue, or answer reviews of) a run with a progress bar; errors exit with one line.
    Returns the reviews pending now."""
    console = Console(stderr=True)
    try:
        with RunProgress(console, enabled=not as_json and console.is_terminal) as prog:
            if answers is None:
                rep, pending = asyncio.run(runs.execute(config, on_event=prog.on_event))
            else:
                rep, pending = asyncio.run(reviews.answer(config, answers, on_event=prog.on_event))
    except (RepoError, FamilyError, digest.DigestError, reviews.ReviewError) as exc:
        raise fail(str(exc)) from exc
    except SandboxError as exc:
        raise fail(f"sandbox: {exc}", code=1) from exc
    _finish(rep, pending, as_json, config.run_id)
    return pending


def _tty() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _review_app(config: RunConfig) -> None:
    """The review app in this terminal; then what it did, and what is left."""
    from agent.review_app.app import run_app  # Textual loads only for the app

    summary = run_app(config)
    done = ", ".join(f"{pid} {action}" for pid, action in summary.answered.items())
    err.print(f"answered {len(summary.answered)} review(s){f' ({done})' if done else ''}")
    for problem in summary.errors:
        err.print(f"[red]refused:[/] {problem}", highlight=False)
    if summary.report is not None:
        _finish(summary.report, [], False, config.run_id)
    if summary.pending:
        err.print(f"{summary.pending} review(s) still pending: `lit2code review {config.run_id}` shows them again")


def _check_llm(model: str | None) -> str:
    """The model name, after checking the model settings (env / .env) parse; exit 2 naming what is wrong."""
    llm = load_settings(model=True).llm
    name = model or llm.model
    if not name:
        raise fail("--planner llm needs a model: pass --model NAME or set LIT2CODE_MODEL")
    if not llm.base_url and not llm.api_key:
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
    planner: Annotated[str | None, typer.Option(**PLANNER, help=f"who plans ({default('planner')})")] = None,
    model: Annotated[str | None, typer.Option(help="model name for --planner llm")] = None,
    sandbox: Annotated[
        str | None,
        typer.Option(**SANDBOX, help=f"where tests run; auto prefers docker ({default('sandbox')})"),
    ] = None,
    gpu: Annotated[str | None, typer.Option(**GPU, help=f"GPU use ({default('gpu')})")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="papers processed at once (default: CPU count)", show_default=False)
    ] = None,
    interactive: Annotated[
        bool | None, typer.Option("--interactive", help="pause for a review of each plan and each result")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help=f"seconds allowed for one module's tests ({default('timeout_s')})")
    ] = None,
    memory: Annotated[
        str | None, typer.Option(help=f"memory limit for one module's tests ({default('memory')})")
    ] = None,
    max_repairs: Annotated[
        int | None, typer.Option(help=f"repair attempts per paper, llm planner ({default('max_repairs')})")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(help="USD: no new model call once the run has spent this (llm planner)")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="tokens: no new model call once the run has used this many (llm planner)")
    ] = None,
    cache: Annotated[
        bool | None, typer.Option("--cache/--no-cache", help="answer repeated model requests from the cache")
    ] = None,
    on_bad_answer: Annotated[
        str | None,
        typer.Option(
            **choice(["offline", "fail"]),
            help="llm planner: when a paper's answer stays unusable after the corrective retry, 'offline' plans "
            f"it with the offline planner (recorded as a fallback), 'fail' fails it ({default('on_bad_answer')})",
        ),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(help=f"skip a paper whose triage pick is less sure than this, 0..1 ({default('min_confidence')})"),
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="name the run (default: a timestamp)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json to stdout instead of a summary")] = False,
) -> None:
    """Process digests: triage, plan, render, validate and commit every paper."""
    given: dict[str, Any] = {
        "planner": planner,
        "model": model,
        "sandbox": sandbox,
        "gpu": gpu,
        "concurrency": concurrency,
        "interactive": interactive,
        "timeout_s": timeout,
        "memory": memory,
        "max_repairs": max_repairs,
        "max_cost": max_cost,
        "max_tokens": max_tokens,
        "cache": cache,
        "min_confidence": min_confidence,
        "on_bad_answer": on_bad_answer,
    }
    load_settings()
    config = run_config(run_id=run_id or runs.new_run_id(), inputs=[], repo=str(repo.resolve()), **given)
    if config.planner == "llm":
        config = config.model_copy(update={"model": _check_llm(model)})
    try:
        papers = digest.load_inputs(inputs)  # fail fast, before a run folder exists
    except digest.DigestError as exc:
        raise fail(str(exc)) from exc
    config = config.model_copy(update={"inputs": [str(p.resolve()) for p in inputs]})
    try:
        config, note = runs.create(config)
    except runs.RunError as exc:
        raise fail(str(exc)) from exc
    except SandboxError as exc:
        raise fail(str(exc)) from exc
    if note:
        err.print(f"[yellow]note:[/] {note}")
    if not as_json:
        err.print(
            f"run [bold]{config.run_id}[/]: {len(papers)} papers from {len(inputs)} input(s) -> {config.repo} "
            f"(planner {config.planner}{f' {config.model}' if config.model else ''}, sandbox {config.sandbox})"
        )
    if _drive(config, as_json) and not as_json and _tty():
        _review_app(config)  # the run paused for reviews: review them now


def _load(run_id: str) -> RunConfig:
    try:
        return runs.load_config(run_id)
    except runs.RunError as exc:
        raise fail(str(exc)) from exc


@app.command()
def resume(
    run_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="print report.json to stdout")] = False,
) -> None:
    """Continue an interrupted run from its checkpoints."""
    config = _load(run_id)
    if _drive(config, as_json) and not as_json and _tty():
        _review_app(config)


NO_TTY = (
    "review needs a terminal for the review app; without one, pass --list [--json] to see the pending reviews, "
    "--answer PAPER_ID=approve|reject[:REASON] (repeatable) or --approve-all"
)


def _print_list(items: list[reviews.PendingReview], as_json: bool) -> None:
    if as_json:
        print(json.dumps(reviews.listing(items), indent=2))
        return
    table = Table("paper", "stage", "family", "method", "tests", "title")
    for row in reviews.listing(items):
        v = row["validation"]
        tests = "" if v is None else f"{v['passed']} passed, {v['failed'] + v['errors']} failed"
        table.add_row(row["paper_id"], row["stage"], row["family"], row["method_name"], tests, row["title"][:60])
    Console().print(table)


@app.command()
def review(
    run_id: str,
    list_items: Annotated[bool, typer.Option("--list", help="print the pending reviews and stop")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --list: print them as JSON")] = False,
    answer: Annotated[
        list[str] | None,
        typer.Option(
            "--answer",
            metavar="PAPER_ID=ACTION",
            help="answer without the app: PAPER_ID=approve, PAPER_ID=reject[:REASON] or PAPER_ID=feedback:TEXT; "
            "PAPER_ID@plan=... or @result=... answers only that stage (repeatable)",
        ),
    ] = None,
    approve_all: Annotated[
        bool,
        typer.Option("--approve-all", help="approve every pending plan and passing result, again until none is left"),
    ] = False,
) -> None:
    """Review the pending plans and results of an --interactive run (a terminal app), then continue it."""
    config = _load(run_id)
    items = asyncio.run(reviews.pending(config))
    if list_items:
        _print_list(items, as_json)
        return
    if answer:
        answers: dict[str, ReviewAnswer] = {}
        for text in answer:
            try:
                pid, ans = reviews.parse_answer(text)
            except reviews.ReviewError as exc:
                raise fail(str(exc)) from exc
            if pid in answers:
                raise fail(f"--answer: {pid} is answered twice")
            answers[pid] = ans
        _drive(config, False, answers=answers)
        return
    if approve_all:
        while True:
            approvals = reviews.approve_all(items)
            if not approvals:
                break
            _drive(config, False, answers=approvals)
            items = asyncio.run(reviews.pending(config))
        if items:
            err.print(f"{len(items)} failing result(s) left for a reviewer: `lit2code review {run_id}`")
        return
    if not items:
        err.print(f"run {run_id} has no pending reviews")
        return
    if not _tty():
        raise fail(NO_TTY)
    _review_app(config)


@app.command()
def status(
    run_id: Annotated[str | None, typer.Argument(help="a run id (default: list all runs)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a run's report, or list runs."""
    if run_id is None:
        rows: list[dict[str, Any]] = []
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
