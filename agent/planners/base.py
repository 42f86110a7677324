"""The planner interface: triage a paper, then plan its implementation (and, with a model, repair it).

Implementations are named in `agent.registry.PLANNERS`; each has a `from_config(config, run_dir, settings)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from agent.families import FamilySpec
from agent.models import LLMUsage, Paper, Plan, RenderedModule, Triage, Validation


class PlannerError(RuntimeError):
    """No usable answer for this paper (a model refused, timed out, kept answering nonsense...): the paper
    fails with this reason, the batch goes on. `kind` names what went wrong, for the report."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BudgetSpent(PlannerError):
    """The run's --max-cost / --max-tokens is spent: the paper is skipped with reason `budget`."""

    def __init__(self, message: str) -> None:
        super().__init__("budget", message)


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
