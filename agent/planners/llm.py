"""The llm planner: a model triages, fills the family template's plan and slots, writes `generic`
modules, and repairs code whose tests fail. Every answer is validated (agent.llm.answers) before it
is used; the offline planner's identifier rules still apply to what the model names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from agent.families import FamilySpec, load_families
from agent.llm import prompts
from agent.llm.answers import (
    GenericPlanAnswer,
    GenericRepairAnswer,
    PlanAnswer,
    RepairAnswer,
    SlotCode,
    triage_schema,
)
from agent.llm.cache import CapabilityStore, ResponseCache
from agent.llm.client import Budget, BudgetExceeded, LLMClient, LLMError, PromptTooLong
from agent.models import LLMUsage, Paper, Plan, RenderedModule, RunConfig, TestSpec, Triage, Validation
from agent.planners.base import BudgetSpent, Planner, PlannerError
from agent.planners.naming import class_identifier, module_identifier
from agent.settings import Settings

GENERIC = "generic"
T = TypeVar("T", bound=BaseModel)


class LLMPlanner(Planner):
    name = "llm"
    can_repair = True

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    @classmethod
    def from_config(cls, config: RunConfig, run_dir: Path, settings: Settings) -> LLMPlanner:
        llm = settings.llm
        name = config.model or llm.model
        if not name:
            raise ValueError("the llm planner needs a model: pass --model NAME or set LIT2CODE_MODEL")
        client = LLMClient(
            llm,
            name,
            ledger=run_dir / "llm_calls.jsonl",
            budget=Budget(config.max_cost, config.max_tokens),
            cache=ResponseCache(settings.llm_cache_path() if config.cache else None),
            # What the server supports is remembered even with --no-cache: that flag is about answers.
            capabilities=CapabilityStore(settings.llm_cache_path()),
        )
        return cls(client)

    def _ask(self, paper_id: str, stage: str, system: str, user: str, schema: type[T]) -> T:
        with _planner_errors():
            return self.client.ask(paper_id, stage, system, user, schema)

    # -- triage --------------------------------------------------------------------------------
    def triage(self, paper: Paper, families: dict[str, FamilySpec]) -> Triage:
        offered = {fid: f for fid, f in families.items() if fid != GENERIC}
        schema = triage_schema(list(offered))
        ans = self._ask(paper.paper_id, "triage", prompts.SYSTEM, prompts.triage(paper, offered), schema)
        family = ans.family if ans.implementable else "skip"
        if family == GENERIC and GENERIC not in families:
            family = "skip"
        cue = f"model: {ans.method_name}" if ans.method_name else "model"
        return Triage(family=family, reason=f"model: {ans.reason}", cues=[cue])

    # -- plan ----------------------------------------------------------------------------------
    def plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None = None) -> Plan:
        if family.id == GENERIC:
            return self._generic_plan(paper, triage, family, feedback)
        ans, prompt_note = self._ask_plan(paper, triage, family, feedback)
        inferred: dict[str, str] = {"method_name": "model"}
        if prompt_note:
            inferred["prompt"] = prompt_note
        hyper: dict[str, int | float | bool | str] = {}
        given = {s.name: s for s in ans.hyperparameters}
        for pname, spec in family.parameters.items():
            hyper[pname], inferred[pname] = spec.default, "family default"
            setting = given.get(pname)
            if setting is None:
                continue
            try:
                value = spec.parse(setting.value)
            except ValueError as exc:
                inferred[pname] = f"family default (model's {setting.value!r} is not a usable {spec.type}: {exc})"
                continue
            hyper[pname] = value
            inferred[pname] = f"model, from the abstract: '{setting.evidence[:160]}'"
        options = [o for o in ans.options if o in family.options]
        dropped = sorted(set(ans.options) - set(options))
        inferred["options"] = "model" + (f" (unknown options dropped: {', '.join(dropped)})" if dropped else "")
        slots = self._slots(ans.slots, family)
        for name in slots:
            inferred[f"slot {name}"] = "model"
        return Plan(
            **_provenance(paper, family),
            method_name=ans.method_name,
            module_name=module_identifier(ans.module_name),
            class_name=class_identifier(ans.class_name),
            summary=ans.summary,
            components=ans.components or list(family.components),
            hyperparameters=hyper,
            options=options,
            tensor_shapes=dict(family.tensor_shapes),
            tests=[TestSpec(**t.model_dump()) for t in family.tests],
            not_implemented=ans.not_implemented or list(family.not_implemented),
            inferred=inferred,
            slots=slots,
            confidence=ans.confidence,
            planner=self.name,
        )

    def _ask_plan(
        self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None
    ) -> tuple[PlanAnswer, str | None]:
        """The plan answer; when the whole template does not fit the model's context, the prompt carries
        only the code slots and their surroundings, and when even that does not fit, the paper fails clearly."""
        try:
            full = prompts.plan(paper, family, triage.reason, feedback)
            with _planner_errors(passing=PromptTooLong):
                return self.client.ask(paper.paper_id, "plan", prompts.SYSTEM, full, PlanAnswer), None
        except PromptTooLong as too_long:
            compact = prompts.plan(paper, family, triage.reason, feedback, compact=True)
            try:
                with _planner_errors(passing=PromptTooLong):
                    ans = self.client.ask(paper.paper_id, "plan", prompts.SYSTEM, compact, PlanAnswer)
            except PromptTooLong as still:
                raise PlannerError(
                    "context",
                    f"the plan prompt for family {family.id} does not fit the model's context: {too_long}; "
                    f"with only the template's code slots and their surroundings it still does not: {still}. "
                    "Use a model with a larger context (or raise the server's, e.g. llama.cpp --ctx-size), "
                    "or lower LIT2CODE_LLM_MAX_COMPLETION_TOKENS",
                ) from still
            note = f"the template's code slots and their surroundings only: the whole template did not fit ({too_long})"
            return ans, note

    @staticmethod
    def _slots(answers: list[SlotCode], family: FamilySpec) -> dict[str, str]:
        """The model's slot code for slots the family has; a slot left at its default is not recorded."""
        out = {}
        for s in answers:
            spec = family.slots.get(s.name)
            if spec is not None and s.code.strip() and s.code.strip() != spec.default.strip():
                out[s.name] = s.code.strip("\n")
        return out

    def _generic_plan(self, paper: Paper, triage: Triage, family: FamilySpec, feedback: str | None) -> Plan:
        ans = self._ask(
            paper.paper_id,
            "plan",
            prompts.SYSTEM,
            prompts.generic_plan(paper, triage.reason, feedback),
            GenericPlanAnswer,
        )
        files = {f.path: f.content for f in ans.files}
        module_code = files[f"{ans.module_name}.py"]
        test_code = files[f"test_{ans.module_name}.py"]
        return Plan(
            **_provenance(paper, family),
            method_name=ans.method_name,
            module_name=ans.module_name,  # the test file imports it by this name: never rewritten
            class_name=ans.class_name,
            summary=ans.summary,
            components=ans.components,
            tests=_test_specs(test_code),
            not_implemented=ans.not_implemented,
            inferred={"method_name": "model", "slot module_code": "model", "slot test_code": "model"},
            slots={"module_code": module_code, "test_code": test_code},
            confidence=ans.confidence,
            planner=self.name,
        )

    # -- repair --------------------------------------------------------------------------------
    def repair(self, paper: Paper, plan: Plan, rendered: RenderedModule, failure: Validation) -> Plan:
        generic = plan.family == GENERIC
        stage = f"repair-{failure.attempt}"
        text = prompts.repair(paper, plan, rendered, failure, generic)
        if generic:
            generic_ans = self._ask(paper.paper_id, stage, prompts.SYSTEM, text, GenericRepairAnswer)
            files = {f.path: f.content for f in generic_ans.files}
            slots = dict(plan.slots)
            for path, content in files.items():
                if path == f"{plan.module_name}.py":
                    slots["module_code"] = content
                elif path == f"test_{plan.module_name}.py":
                    slots["test_code"] = content
            tests = _test_specs(slots.get("test_code", "")) or plan.tests
            diagnosis = generic_ans.diagnosis
        else:
            ans = self._ask(paper.paper_id, stage, prompts.SYSTEM, text, RepairAnswer)
            family = load_families()[plan.family]
            slots = {**plan.slots, **{s.name: s.code.strip("\n") for s in ans.slots if s.name in family.slots}}
            tests = plan.tests
            diagnosis = ans.diagnosis
        inferred = {**plan.inferred, f"repair {failure.attempt}": f"model: {diagnosis[:300]}"}
        return plan.model_copy(update={"slots": slots, "tests": tests, "inferred": inferred})

    # -- usage ---------------------------------------------------------------------------------
    def take_usage(self, paper_id: str) -> LLMUsage:
        return self.client.take_usage(paper_id)

    def total_usage(self) -> LLMUsage:
        return self.client.total()

    def budget_note(self) -> str | None:
        return self.client.budget.exceeded()


@contextmanager
def _planner_errors(passing: type[Exception] | None = None) -> Iterator[None]:
    """The client's errors as the planner interface's, which the workflow and the fallback handle."""
    try:
        yield
    except BudgetExceeded as exc:
        raise BudgetSpent(str(exc)) from exc
    except LLMError as exc:
        if passing is not None and isinstance(exc, passing):
            raise
        raise PlannerError(exc.kind, str(exc)) from exc


def _provenance(paper: Paper, family: FamilySpec) -> dict:
    return {"paper_id": paper.paper_id, "paper_title": paper.title, "paper_url": paper.url, "family": family.id}


def _test_specs(test_code: str) -> list[TestSpec]:
    """The tests a model-written test file defines, with the first line of each docstring.

    A regex, not `ast`: this runs in a worker thread, where CPython 3.11 must not parse (see static_check).
    """
    specs = []
    for m in _TEST_DEF.finditer(test_code):
        doc = (m.group("doc") or "").strip().splitlines()
        specs.append(TestSpec(name=m.group("name"), checks=doc[0].strip() if doc else "(no docstring)"))
    return specs


_TEST_DEF = re.compile(
    r"^(?:async )?def (?P<name>test\w*)\(.*?\).*?:\s*\n(?:\s+(?:\"\"\"|\'\'\')(?P<doc>.*?)(?:\"\"\"|\'\'\'))?",
    re.M | re.S,
)
