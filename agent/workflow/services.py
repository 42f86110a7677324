"""The composition root: the one place that turns a `RunConfig` into the services a run uses.

The CLI, the server and LangGraph Studio (agent/studio.py) all build their services here; the graph
only sees the interfaces (`Planner`, `Sandbox`, `GeneratedRepo`) through the `Services` context.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from agent.families import load_families
from agent.models import RunConfig
from agent.planners import get_planner
from agent.planners.fallback import FallbackPlanner
from agent.registry import PLANNERS
from agent.repo import GeneratedRepo
from agent.sandbox import Sandbox, get_sandbox, select_backend
from agent.settings import Settings, settings
from agent.workflow.graph import Services

_shared: dict[str, Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(name: str) -> Sandbox:
    """One sandbox per backend for the whole process, so its warm workers outlive a run: the next run
    (a review answered, a resumed run, the server's next job) finds them warm. Closed when the process ends."""
    with _shared_lock:
        if name not in _shared:
            if not _shared:
                atexit.register(_close_shared)
            _shared[name] = get_sandbox(name)
        return _shared[name]


def _close_shared() -> None:
    with _shared_lock:
        sandboxes = list(_shared.values())
        _shared.clear()
    for sandbox in sandboxes:
        sandbox.close()


def resolve(config: RunConfig) -> tuple[RunConfig, str | None]:
    """The config with `sandbox: auto` settled on a backend (what config.json records), and a note
    for the user when auto had to settle for less. SandboxError when no backend fits the code."""
    name, note = select_backend(config.sandbox, model_code=PLANNERS[config.planner].model_code)
    return config.model_copy(update={"sandbox": name}), note


def build_services(config: RunConfig, env: Settings | None = None) -> Services:
    """Everything the graph's nodes use for this run, ready: the repo exists, the sandbox is prepared."""
    env = env or settings()
    if config.sandbox == "auto":
        config, _ = resolve(config)
    folder = env.runs_dir / config.run_id
    planner = get_planner(config, folder, env)
    if PLANNERS[config.planner].model_code and config.on_bad_answer == "offline":
        # An unusable answer for a paper: the offline planner's plan for it, recorded as a fallback.
        planner = FallbackPlanner(planner, get_planner(config.model_copy(update={"planner": "offline"}), folder, env))
    svc = Services(
        config=config,
        run_dir=folder,
        families=load_families(),
        planner=planner,
        sandbox=shared_sandbox(config.sandbox),
        repo=GeneratedRepo(Path(config.repo)),
    )
    svc.repo.ensure()
    svc.sandbox.prepare()
    model_code = PLANNERS[config.planner].model_code
    svc.sandbox.warm_up(trusted=not model_code, untrusted=model_code, memory=config.memory)
    return svc


def studio_services() -> Services:
    """Services for runs started without a context (LangGraph Studio / `langgraph dev`): the offline
    planner, the process sandbox, the repo named by LIT2CODE_REPO (default runs/studio-repo)."""
    env = settings()
    config = RunConfig(run_id="studio", inputs=[], repo=str(env.repo), sandbox="process")
    (env.runs_dir / config.run_id).mkdir(parents=True, exist_ok=True)
    return build_services(config, env)
