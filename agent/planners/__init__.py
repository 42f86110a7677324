"""Planners, chosen by name from `agent.registry.PLANNERS`."""

from __future__ import annotations

from pathlib import Path

from agent.models import RunConfig
from agent.planners.base import Planner
from agent.registry import PLANNERS, load
from agent.settings import Settings

__all__ = ["Planner", "get_planner"]


def get_planner(config: RunConfig, run_dir: Path, settings: Settings) -> Planner:
    """The run's planner (RunConfig has already checked that its name is registered)."""
    planner: Planner = load(PLANNERS[config.planner].factory)(config, run_dir, settings)
    return planner
