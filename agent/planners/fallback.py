"""A planner that stands in for another when its answer for a paper is unusable.

`FallbackPlanner(primary, fallback)` asks `primary` (the llm planner) and, when its answer for a paper
stays unusable after the corrective retry (invalid, refused, truncated, too large, or a prompt the
model's context cannot hold), asks `fallback` (the offline planner) for that paper instead. Each
plan or triage it takes from the fallback says so in `fallback_from` ('llm: <reason>'), which the
report and the paper's README show. Server errors and the budget are not answers: they end the paper
as before (a broken server is reported, not hidden behind offline plans; a budget stops the run's calls).

It takes planner instances, so it imports neither planner.
"""

from __future__ import annotations

from agent.families import FamilySpec, load_families
from agent.models import LLMUsage, Paper, Plan, RenderedModule, Triage, Validation
from agent.planners.base import Planner, PlannerError

# Kinds of PlannerError that mean "this paper's answer is unusable"; the others (transport, budget) do not.
UNUSABLE = frozenset({"invalid", "refused", "truncated", "too_large", "context", "empty"})


class FallbackPlanner(Planner):
    def __init__(self, primary: Planner, fallback: Planner) -> None:
        self.primary, self.fallback = primary, fallback
        self.name = primary.name
        self.can_repair = primary.can_repair

    def _why(self, exc: PlannerError, stage: str) -> str:
        return f"{self.primary.name}: model {exc.kind} at {stage}: {exc}"

    @staticmethod
    def _templates(families: dict[str, FamilySpec]) -> dict[str, FamilySpec]:
        return {fid: f for fid, f in families.items() if not f.llm_only}

    # -- triage --------------------------------------------------------------------------------
    def triage(self, paper: Paper, families: dict[str, FamilySpec]) -> Triage:
        try:
            return self.primary.triage(paper, families)
        except PlannerError as exc:
            if exc.kind not in UNUSABLE:
                raise
            why = self._why(exc, "triage")
        t = self.fallback.triage(paper, self._templates(families))
        return t.model_copy(update={"fallback_from": why, "reason": f"{t.reason} ({self.fallback.name} planner)"})

    # -- plan ----------------------------------------------------------------------------------
    def plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None = None) -> Plan:
        if triage.fallback_from:  # the model gave no usable triage for this paper: no plan from it either
            return self._fallback_plan(paper, triage, family, triage.fallback_from)
        try:
            return self.primary.plan(paper, triage, family, feedback)
        except PlannerError as exc:
            if exc.kind not in UNUSABLE:
                raise
            return self._stand_in(paper, family, exc, "plan")

    def _fallback_plan(self, paper: Paper, triage: Triage, family: FamilySpec, why: str) -> Plan:
        plan = self.fallback.plan(paper, triage, family)
        return plan.model_copy(update={"fallback_from": why})

    def _stand_in(self, paper: Paper, family: FamilySpec, exc: PlannerError, stage: str) -> Plan:
        """The fallback planner's own plan for the paper: under the family it picks, else under the
        model's family when that is a template family; when neither works, the model's error stands."""
        why = self._why(exc, stage)
        families = self._templates(load_families())
        own = self.fallback.triage(paper, families)
        if own.family in families:
            return self._fallback_plan(paper, own, families[own.family], why)
        if family.id in families:
            return self._fallback_plan(paper, own, families[family.id], why)
        raise PlannerError(
            exc.kind,
            f"{exc} (the {self.fallback.name} planner has no plan to fall back on: {own.reason}; "
            f"family {family.id} has no template)",
        ) from exc

    # -- repair --------------------------------------------------------------------------------
    def repair(self, paper: Paper, plan: Plan, rendered: RenderedModule, failure: Validation) -> Plan:
        if plan.fallback_from:
            # The model already failed this paper; its code is not asked to mend the fallback's.
            raise PlannerError(
                "fallback",
                f"the {plan.planner} plan (fallback from {plan.fallback_from}) failed its "
                f"{'static checks' if failure.stage == 'static' else 'tests'}, and that planner does not repair",
            )
        try:
            return self.primary.repair(paper, plan, rendered, failure)
        except PlannerError as exc:
            if exc.kind not in UNUSABLE:
                raise
            return self._stand_in(paper, load_families()[plan.family], exc, f"repair-{failure.attempt}")

    # -- usage ---------------------------------------------------------------------------------
    def take_usage(self, paper_id: str) -> LLMUsage:
        return self.primary.take_usage(paper_id)

    def total_usage(self) -> LLMUsage:
        return self.primary.total_usage()

    def budget_note(self) -> str | None:
        return self.primary.budget_note()
