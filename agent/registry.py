"""Name -> factory registries for planners and sandbox backends (import strings, loaded on use).

The names are what the CLI offers, what `RunConfig` accepts and what `--sandbox auto` tries, in this
order. Adding a backend or a planner means one line here and its own module: nothing else names them.
Strings rather than imports keep this a leaf that the contracts (`agent.models`) can read, and keep
a backend's heavy imports (the Docker SDK, the openai client) out of runs that do not use it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlannerEntry:
    factory: str  # "package.module:attribute", called with (RunConfig, run folder, Settings)
    summary: str
    model_code: bool  # writes code of its own (model-written code runs only in an isolating sandbox)


@dataclass(frozen=True)
class SandboxEntry:
    factory: str  # "package.module:attribute", called with no arguments
    summary: str
    isolates: bool  # a boundary between the code and the host, fit for model-written code


PLANNERS: dict[str, PlannerEntry] = {
    "offline": PlannerEntry(
        "agent.planners.offline:OfflinePlanner.from_config", "no model: cue words fill our templates", False
    ),
    "llm": PlannerEntry(
        "agent.planners.llm:LLMPlanner.from_config", "an OpenAI-compatible model fills the templates", True
    ),
}

# In the order `--sandbox auto` tries them.
SANDBOXES: dict[str, SandboxEntry] = {
    "docker": SandboxEntry("agent.sandbox.docker_backend:DockerSandbox", "a fresh locked-down container", True),
    "process": SandboxEntry("agent.sandbox.process:ProcessSandbox", "a subprocess with rlimits; not isolation", False),
}


def load(spec: str) -> Any:
    """The object an import string names: 'pkg.mod:Class.method' -> the bound attribute."""
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
