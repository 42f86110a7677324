"""Runs: the runs/RUN_ID folder, its saved config, and driving the graph (start, resume, interrupts)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.types import Command

from agent import report as reports
from agent.checkpoint import open_checkpointer
from agent.families import load_families
from agent.graph import Services, build_graph
from agent.models import Outcome, Paper, ReviewRequest, RunConfig
from agent.planners.base import get_planner
from agent.repo import GeneratedRepo
from agent.sandbox.base import get_sandbox

Event = dict[str, Any]


class RunError(RuntimeError):
    pass


def runs_root() -> Path:
    return Path(os.environ.get("LIT2CODE_RUNS_DIR", "runs"))


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


def make_planner(config: RunConfig, d: Path):
    if config.planner == "llm":
        llm = get_planner(
            "llm",
            model=config.model,
            run_dir=d,
            max_cost=config.max_cost,
            max_tokens=config.max_tokens,
            cache=config.cache,
        )
        if config.on_bad_answer == "offline":
            from agent.planners.fallback import FallbackPlanner

            return FallbackPlanner(llm, get_planner("offline"))
        return llm
    return get_planner(config.planner)


def make_services(config: RunConfig) -> Services:
    d = run_dir(config.run_id)
    svc = Services(
        config=config,
        run_dir=d,
        families=load_families(),
        planner=make_planner(config, d),
        sandbox=get_sandbox(config.sandbox),
        repo=GeneratedRepo(Path(config.repo)),
    )
    svc.repo.ensure()
    svc.sandbox.prepare()
    return svc


def studio_services() -> Services:
    """Services for graphs run without a context (LangGraph Studio / `langgraph dev`): offline planner,
    process sandbox, the repo named by LIT2CODE_REPO (default runs/studio-repo)."""
    config = RunConfig(run_id="studio", inputs=[], repo=os.environ.get("LIT2CODE_REPO", "runs/studio-repo"))
    run_dir(config.run_id).mkdir(parents=True, exist_ok=True)
    return make_services(config)


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
    svc = services or make_services(config)
    d = svc.run_dir
    begun = started_at(config.run_id)
    papers_seen: list[Paper] = []

    def on_report(outcomes: list[Outcome], papers: list[Paper]) -> None:
        reports.write_report(
            d, reports.build_report(config, papers, outcomes, begun, finished=True, budget=svc.planner.budget_note())
        )

    svc.on_report = on_report
    cfg = {
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
        if payload is None and not current.next and current.created_at is not None:
            pass  # already finished: nothing to run, just report again below
        else:
            async for _ns, mode, chunk in app.astream(
                payload, cfg, context=svc, stream_mode=["updates", "custom"], subgraphs=True
            ):
                if mode == "custom" and on_event:
                    on_event(chunk)
        state = await app.aget_state(cfg)
    values = state.values
    papers_seen = values.get("papers", [])
    outcomes = values.get("outcomes", [])
    pending = [ReviewRequest.model_validate(i.value) for i in state.interrupts]
    finished = not state.next
    rep = reports.build_report(
        config, papers_seen, outcomes, begun, finished=finished, budget=svc.planner.budget_note()
    )
    reports.write_report(d, rep)
    ids = {i.id: ReviewRequest.model_validate(i.value) for i in state.interrupts}
    (d / "pending_reviews.json").write_text(
        json.dumps({k: v.model_dump(mode="json") for k, v in ids.items()}, indent=2) + "\n"
    )
    return rep, pending


async def pending_interrupts(config: RunConfig) -> dict[str, ReviewRequest]:
    """interrupt id -> the review it asks for, for a run paused in interactive mode."""
    async with open_checkpointer(run_dir(config.run_id)) as saver:
        app = build_graph().compile(checkpointer=saver)
        state = await app.aget_state({"configurable": {"thread_id": config.run_id}})
    return {i.id: ReviewRequest.model_validate(i.value) for i in state.interrupts}
