"""The planner interface: triage a paper, then plan its implementation (and, with a model, repair it)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from agent.families import FamilySpec
from agent.models import LLMUsage, Paper, Plan, RenderedModule, Triage, Validation


class Planner(ABC):
    name: str
    can_repair: bool = False

    @abstractmethod
    def triage(self, paper: Paper, families: dict[str, FamilySpec]) -> Triage: ...

    @abstractmethod
    def plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None = None) -> Plan: ...

    def repair(self, paper: Paper, plan: Plan, rendered: RenderedModule, failure: Validation) -> Plan:
        """Return a plan whose slots fix the failure; only planners with `can_repair` are asked."""
        raise NotImplementedError(f"the {self.name} planner does not repair code")

    def take_usage(self, paper_id: str) -> LLMUsage:
        """Model usage spent on a paper since the last take (zero for planners without a model)."""
        return LLMUsage()

    def total_usage(self) -> LLMUsage:
        """Model usage of this process so far, for the progress bar."""
        return LLMUsage()

    def budget_note(self) -> str | None:
        """Which budget stopped new model calls, if one did."""
        return None


def get_planner(name: str, **kwargs: Any) -> Planner:
    if name == "offline":
        from agent.planners.offline import OfflinePlanner

        return OfflinePlanner()
    if name == "llm":
        from agent.planners.llm import make_llm_planner

        return make_llm_planner(**kwargs)
    raise ValueError(f"unknown planner {name!r}; available: offline, llm")
