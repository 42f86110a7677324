"""The planner interface: triage a paper, then plan its implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod

from agent.families import FamilySpec
from agent.models import LLMUsage, Paper, Plan, RenderedModule, Triage, Validation


class Planner(ABC):
    name: str
    can_repair: bool = False

    @abstractmethod
    def triage(self, paper: Paper, families: dict[str, FamilySpec]) -> Triage: ...

    @abstractmethod
    def plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None = None) -> Plan: ...

    def repair(self, plan: Plan, rendered: RenderedModule, failure: Validation) -> Plan:
        """Return a plan whose slots fix the failure; only planners with `can_repair` are asked."""
        raise NotImplementedError(f"the {self.name} planner does not repair code")

    def usage(self, paper_id: str) -> LLMUsage:
        """Model usage spent on a paper so far (zero for planners without a model)."""
        return LLMUsage()


def get_planner(name: str, **kwargs) -> Planner:
    if name == "offline":
        from agent.planners.offline import OfflinePlanner

        return OfflinePlanner()
    raise ValueError(f"unknown planner {name!r}; available: offline")
