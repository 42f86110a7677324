"""Runs: the runs/RUN_ID folder, its saved config, and driving the graph (start, resume, interrupts)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StateSnapshot

from agent import report as reports
from agent.models import Outcome, Paper, ReviewRequest, RunConfig, TestCounts
from agent.settings import settings
from agent.workflow.checkpoint import open_checkpointer
from agent.workflow.graph import Services, build_graph
from agent.workflow.services import build_services, resolve

Event = dict[str, Any]


class RunError(RuntimeError):
    pass


def runs_root() -> Path:
    return settings().runs_dir


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def run_dir(run_id: str) -> Path:
    return runs_root() / run_id


def save_config(config: RunConfig) -> Path:
    d = run_dir(config.run_id)
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(config.model_dump_json(indent=2) + "\n")
    return d


def load_config(run_id: str) -> RunConfig:
    path = run_dir(run_id) / "config.json"
    if not path.exists():
        raise RunError(f"no run {run_id!r}: {path} does not exist (see `lit2code status` for runs)")
    return RunConfig.model_validate_json(path.read_text())


def list_runs() -> list[str]:
    root = runs_root()
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").exists())


def started_at(run_id: str) -> str:
    marker = run_dir(run_id) / "started_at"
    if not marker.exists():
        marker.write_text(reports.now())
    return marker.read_text().strip()


def create(config: RunConfig) -> tuple[RunConfig, str | None]:
    """A new run folder with its config.json (`sandbox: auto` settled), and auto's note if it had one.

    RunError when the run exists; SandboxError when no sandbox backend fits the planner's code.
    """
    if run_dir(config.run_id).exists():
        raise RunError(f"run {config.run_id} already exists; continue it with `lit2code resume {config.run_id}`")
    config, note = resolve(config)
    save_config(config)
    return config, note


async def execute(
    config: RunConfig,
    *,
    resume: Any = None,
    on_event: Callable[[Event], None] | None = None,
    services: Services | None = None,
) -> tuple[reports.Report, list[ReviewRequest]]:
    """Run (or continue) the run's thread until it ends or waits for reviews.

    `resume` is None to start or continue after a crash, or {interrupt_id: answer} to answer reviews.
    Returns the report written to runs/RUN_ID/ and the reviews still pending.
    """
    with _exclusive(config.run_id):
        svc = services or build_services(config)  # its sandbox is the process's: warm for the next run too
        return await _execute(config, svc, resume, on_event)


@contextmanager
def _exclusive(run_id: str) -> Iterator[None]:
    """One process at a time continues a run (its checkpoint file allows no more): a second front end on
    the same run (the review app beside `--answer`, a server job) is told so instead of racing it."""
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RunError(f"run {run_id} is being continued by {holder}; wait for it to pause or end") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def _execute(
    config: RunConfig, svc: Services, resume: Any, on_event: Callable[[Event], None] | None
) -> tuple[reports.Report, list[ReviewRequest]]:
    d = svc.run_dir
    begun = started_at(config.run_id)
    papers_seen: list[Paper] = []

    def on_report(outcomes: list[Outcome], papers: list[Paper]) -> None:
        reports.write_report(
            d, reports.build_report(config, papers, outcomes, begun, finished=True, budget=svc.planner.budget_note())
        )

    svc.on_report = on_report
    cfg: RunnableConfig = {
        "configurable": {"thread_id": config.run_id},
        "max_concurrency": config.concurrency,
        "recursion_limit": 200,
    }
    async with open_checkpointer(d) as saver:
        app = build_graph().compile(checkpointer=saver)
        current = await app.aget_state(cfg)
        if resume is not None:
            payload: Any = Command(resume=resume)
        elif current.created_at is None:
            payload = {"inputs": config.inputs}
        else:
            payload = None  # continue the saved thread from its last checkpoint
        # A finished thread has no task left: nothing to run, just report again below. (An empty `next` is not
        # enough: a process killed after a step's writes were saved, before its checkpoint, leaves such tasks.)
        finished_before = payload is None and not current.tasks  # payload None: a saved thread, no answers
        if not finished_before:
            async for _ns, mode, chunk in app.astream(
                payload, cfg, context=svc, stream_mode=["updates", "custom"], subgraphs=True
            ):
                if mode == "custom" and on_event and isinstance(chunk, dict):
                    on_event(chunk)
        state = await app.aget_state(cfg, subgraphs=True)
    values = state.values
    papers_seen = values.get("papers", [])
    outcomes = values.get("outcomes", [])
    pending = [ReviewRequest.model_validate(i.value) for i in state.interrupts]
    finished = not state.tasks
    rep = reports.build_report(
        config,
        papers_seen,
        outcomes,
        begun,
        finished=finished,
        budget=svc.planner.budget_note(),
        in_progress=_in_progress(state),
    )
    reports.write_report(d, rep)
    ids = {i.id: ReviewRequest.model_validate(i.value) for i in state.interrupts}
    (d / "pending_reviews.json").write_text(
        json.dumps({k: v.model_dump(mode="json") for k, v in ids.items()}, indent=2) + "\n"
    )
    return rep, pending


def _in_progress(state: StateSnapshot) -> dict[str, Outcome]:
    """paper id -> the report row of a paper still on its way (its subgraph's state): its validations
    and review decisions so far."""
    found: dict[str, Outcome] = {}
    for task in state.tasks:
        sub = task.state
        if not isinstance(sub, StateSnapshot) or "paper" not in sub.values or "outcome" in sub.values:
            continue
        v, paper, plan = sub.values, sub.values["paper"], sub.values.get("plan")
        validations = list(v.get("validations", []))
        found[paper.paper_id] = Outcome(
            paper_id=paper.paper_id,
            title=paper.title,
            status="pending_review",
            reason="waiting for a review or resume",
            family=plan.family if plan else None,
            attempts=len(validations),
            tests=validations[-1].tests if validations else TestCounts(),
            validations=validations,
            reviews=list(v.get("reviews", [])),
        )
    return found


async def unfinished_papers(config: RunConfig) -> int:
    """Papers with work left that no review holds: what a killed process left running (resume them)."""
    if not (run_dir(config.run_id) / "checkpoints.sqlite").exists():
        return 0
    async with open_checkpointer(run_dir(config.run_id)) as saver:
        app = build_graph().compile(checkpointer=saver)
        state = await app.aget_state({"configurable": {"thread_id": config.run_id}})
    return sum(1 for t in state.tasks if t.name == "paper" and not t.interrupts and t.result is None and not t.error)


async def pending_interrupts(config: RunConfig) -> dict[str, ReviewRequest]:
    """interrupt id -> the review it asks for, for a run paused in interactive mode."""
    async with open_checkpointer(run_dir(config.run_id)) as saver:
        app = build_graph().compile(checkpointer=saver)
        state = await app.aget_state({"configurable": {"thread_id": config.run_id}})
    return {i.id: ReviewRequest.model_validate(i.value) for i in state.interrupts}
