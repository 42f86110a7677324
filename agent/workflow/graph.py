"""The LangGraph workflow: one thread per run, one per-paper subgraph per paper (fanned out with Send).

Outer:  parse -> Send(paper) x N -> report
Paper:  triage -> plan -> review_plan -> render -> validate -> (repair -> render -> validate)*
        -> review_result -> commit -> finish

Reviews (interactive runs only) route on: feedback on a plan re-plans and asks again; an edited plan
goes to render; at a result review, feedback re-plans (-> render), edited files go to validate and
come back to review_result with the new validation (also when it fails: a reviewer's code is never
handed to repair nor failed without the reviewer seeing why).

Nodes re-run from their start on resume, so every side effect is idempotent: validation runs in a
fresh sandbox, and a commit is looked up by its trailer before it is made.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.errors import NodeError
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy, Send, interrupt

from agent import digest
from agent import report as reports
from agent.families import FamilySpec
from agent.models import (
    LLMUsage,
    Outcome,
    Paper,
    Plan,
    RenderedModule,
    ReviewAnswer,
    ReviewDecision,
    ReviewRequest,
    RunConfig,
    TestCounts,
    Triage,
    Validation,
)
from agent.planners import feedback as reviewer_feedback
from agent.planners.base import BudgetSpent, Planner, PlannerError
from agent.render import RenderError, plan_json, render
from agent.repo import GeneratedRepo
from agent.sandbox.base import Sandbox
from agent.validate import is_template_code, run_tests, static_check, static_failure, summary_line


@dataclass
class Services:
    """What the nodes use; passed as the graph's runtime context (never checkpointed)."""

    config: RunConfig
    run_dir: Path
    families: dict[str, FamilySpec]
    planner: Planner
    sandbox: Sandbox
    repo: GeneratedRepo
    on_report: Callable[[list[Outcome], list[Paper]], None] | None = None  # writes the report files


def _svc(runtime: Runtime[Services]) -> Services:
    if runtime.context is None:
        raise RuntimeError("the lit2code graph runs with its Services as context (agent.workflow.services)")
    return runtime.context


Node = Callable[..., Any]


def _binder(default: Callable[[], Services] | None) -> Callable[[Node], Node]:
    """Wrap nodes so that a run started without a context (LangGraph Studio) gets `default()`'s services."""
    if default is None:
        return lambda fn: fn
    made: list[Services] = []

    def bind(fn: Node) -> Node:
        @functools.wraps(fn)
        async def node(state: Any, runtime: Runtime[Services]) -> Any:
            if runtime.context is None:
                made or made.append(default())
                runtime = runtime.override(context=made[0])
            result = fn(state, runtime)
            return await result if inspect.isawaitable(result) else result

        return node

    return bind


class RunState(TypedDict, total=False):
    inputs: list[str]
    papers: list[Paper]
    outcomes: Annotated[list[Outcome], operator.add]


class PaperState(TypedDict, total=False):
    paper: Paper
    triage: Triage
    plan: Plan
    rendered: RenderedModule
    previous: RenderedModule  # the files of the attempt before `rendered` (a repair, a re-plan, an edit)
    validations: Annotated[list[Validation], operator.add]
    reviews: Annotated[list[ReviewDecision], operator.add]
    feedback: Annotated[list[str], operator.add]  # every feedback given on this paper, in order
    review_next: str  # where a review sends the paper next (set by every review node it passes)
    outcome: Outcome
    timings: Annotated[dict[str, float], lambda a, b: {**a, **b}]
    llm: Annotated[LLMUsage, operator.add]
    outcomes: Annotated[list[Outcome], operator.add]


def _emit(paper: Paper, stage: str, **extra: Any) -> None:
    get_stream_writer()({"paper_id": paper.paper_id, "title": paper.title, "stage": stage, **extra})


def _outcome(state: PaperState, status: str, reason: str, **kw: Any) -> Outcome:
    paper = state["paper"]
    triage = state.get("triage")
    plan = state.get("plan")
    validations = list(state.get("validations", []))
    last = validations[-1] if validations else None
    return Outcome(
        paper_id=paper.paper_id,
        title=paper.title,
        status=status,  # type: ignore[arg-type]
        family=plan.family if plan else (triage.family if triage and triage.family != "skip" else None),
        reason=reason,
        cues=triage.cues if triage else [],
        attempts=len(validations),
        tests=last.tests if last else TestCounts(),
        slug=state["rendered"].slug if state.get("rendered") else None,
        validations=validations,
        planner=plan.planner if plan else None,
        fallback_from=plan.fallback_from if plan else (triage.fallback_from if triage else None),
        **kw,
    )


async def _planner_call(svc: Services, state: PaperState, stage: str, fn: Any, *args: Any) -> tuple[Any, dict]:
    """Call the planner off the event loop; a model failure or the budget becomes this paper's outcome.

    Returns (result or None, state update). The update carries the model usage of the call, so it is
    checkpointed with the paper (a resumed run does not count it again: the answer is then cached).
    """
    paper = state["paper"]
    result, status, reason = None, None, ""
    try:
        result = await asyncio.to_thread(fn, *args)
    except BudgetSpent:
        status, reason = "skipped", "budget"
    except PlannerError as exc:
        status, reason = "failed", f"model {exc.kind} at {stage}: {exc}"
    update: dict[str, Any] = {}
    usage = svc.planner.take_usage(paper.paper_id)
    if usage.calls or usage.cached:
        update["llm"] = usage
        _emit(paper, stage, llm_total=svc.planner.total_usage().model_dump())
    if status:
        update["outcome"] = _outcome(state, status, reason)
    return result, update


# ---- per-paper nodes ---------------------------------------------------------------------------
async def triage_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    t0 = time.monotonic()
    _emit(paper, "triage")
    refused = (await asyncio.to_thread(svc.repo.rejected)).get(paper.paper_id)
    if refused is not None:  # a reviewer rejected it on this branch: never committed again
        why = f"rejected by {refused.get('by') or 'a reviewer'}: {refused.get('reason') or 'no reason given'}"
        return {"outcome": _outcome(state, "rejected", why), "timings": {"triage": round(time.monotonic() - t0, 3)}}
    existing = await asyncio.to_thread(svc.repo.find, paper.paper_id)
    if existing:  # committed by an earlier run: nothing to decide, nothing to spend
        plan = await asyncio.to_thread(svc.repo.plan_of, paper.paper_id)
        done = {**state, "plan": plan} if plan else state
        return {
            "outcome": _outcome(done, "committed", f"already committed in {existing[:12]}", commit=existing),
            "timings": {"triage": round(time.monotonic() - t0, 3)},
        }
    triage, update = await _planner_call(svc, state, "triage", svc.planner.triage, paper, svc.families)
    update["timings"] = {"triage": round(time.monotonic() - t0, 3)}
    if triage is None:
        return update
    update["triage"] = triage
    if triage.family == "skip":
        update["outcome"] = _outcome({**state, **update}, "skipped", triage.reason)
    elif triage.confidence < svc.config.min_confidence:
        why = f"low confidence ({triage.confidence:.2f} < {svc.config.min_confidence:g}): {triage.reason}"
        update["outcome"] = _outcome({**state, **update}, "skipped", why)
    return update


async def plan_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    t0 = time.monotonic()
    _emit(paper, "plan")
    family = svc.families[state["triage"].family]
    feedback = svc.config.feedback.get(paper.paper_id)  # e.g. `/lit2code feedback` on a pull request
    plan, update = await _planner_call(svc, state, "plan", svc.planner.plan, paper, state["triage"], family, feedback)
    update["timings"] = {"plan": round(time.monotonic() - t0, 3)}
    if plan is not None:
        update["plan"] = plan
    return update


def _decision(stage: str, answer: ReviewAnswer, attempt: int = 0, note: str | None = None) -> ReviewDecision:
    return ReviewDecision(
        stage=stage,  # type: ignore[arg-type]
        action=answer.action,
        reviewer=answer.reviewer or "unknown",
        at=answer.at or reports.now(),
        reason=answer.feedback,
        note=note,
        files=sorted(answer.files),
        attempt=attempt,
    )


async def _replan(svc: Services, state: PaperState, text: str) -> tuple[dict, str]:
    """A new plan that takes the paper's feedback so far (this one last) into account: the state update,
    and what the planner made of the feedback (for the decision record)."""
    paper = state["paper"]
    wanted = reviewer_feedback.parse(text).family
    family = svc.families.get(wanted or "") or svc.families[state["plan"].family]
    if family.llm_only:  # only a model fills it; the feedback's note says it was not applied
        family = svc.families[state["plan"].family]
    history = "\n".join([*state.get("feedback", []), text])
    plan, update = await _planner_call(svc, state, "plan", svc.planner.plan, paper, state["triage"], family, history)
    update["feedback"] = [text]
    if plan is not None:
        update["plan"] = plan
    note = "; ".join(plan.review_notes) if plan and plan.review_notes else "re-planned with the feedback"
    return update, note


def _plan_changes(old: Plan, new: Plan) -> str:
    """What a reviewer's plan edit changed, for the decision record."""
    changed = []
    for name in sorted(set(old.hyperparameters) | set(new.hyperparameters)):
        a, b = old.hyperparameters.get(name), new.hyperparameters.get(name)
        if a != b:
            changed.append(f"{name} {a} -> {b}")
    skip = {"hyperparameters", "inferred", "edited_by", "review_notes"}
    changed += [f for f in Plan.model_fields if f not in skip and getattr(old, f) != getattr(new, f)]
    return "edited: " + (", ".join(changed) or "nothing changed")


def _request(state: PaperState, kind: str) -> ReviewRequest:
    paper, triage = state["paper"], state.get("triage")
    result = kind == "result"
    return ReviewRequest(
        kind=kind,  # type: ignore[arg-type]
        paper_id=paper.paper_id,
        title=paper.title,
        plan=state["plan"],
        validation=state["validations"][-1] if result else None,
        abstract=paper.abstract,
        url=paper.url,
        reason=triage.reason if triage else "",
        rendered=state.get("rendered") if result else None,
        previous=state.get("previous") if result else None,
    )


async def review_plan_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    if not svc.config.interactive:
        return {"review_next": "render"}
    _emit(paper, "review plan")
    answer = ReviewAnswer.model_validate(interrupt(_request(state, "plan")))
    if answer.action == "feedback" and answer.feedback:
        update, note = await _replan(svc, state, answer.feedback)
        return {**update, "reviews": [_decision("plan", answer, note=note)], "review_next": "review_plan"}
    edited = answer.plan if answer.action == "edit" else None
    decision = _decision("plan", answer, note=_plan_changes(state["plan"], edited) if edited else None)
    if answer.action == "reject":
        decided: PaperState = {**state, "reviews": [*state.get("reviews", []), decision]}
        reason = answer.feedback or "plan rejected by reviewer"
        return {"outcome": _outcome(decided, "rejected", reason), "reviews": [decision]}
    approved: dict[str, Any] = {"reviews": [decision], "review_next": "render"}
    if answer.action == "edit" and answer.plan is not None:
        who = answer.reviewer or "reviewer"
        approved["plan"] = answer.plan.model_copy(update={"paper_id": paper.paper_id, "edited_by": who})
    return approved


async def render_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    t0 = time.monotonic()
    _emit(paper, "render")
    plan = state["plan"]
    family = svc.families.get(plan.family)
    if family is None:
        return {"outcome": _outcome(state, "failed", f"plan names unknown family {plan.family!r}")}
    try:
        rendered = render(plan, paper, family)
    except RenderError as exc:
        return {"outcome": _outcome(state, "failed", str(exc))}
    _write_artifacts(svc, paper, rendered)
    update: dict[str, Any] = {"rendered": rendered, "timings": {"render": round(time.monotonic() - t0, 3)}}
    if state.get("rendered"):
        update["previous"] = state["rendered"]
    return update


def _write_artifacts(svc: Services, paper: Paper, rendered: RenderedModule) -> None:
    artifacts = svc.run_dir / "papers" / paper.paper_id / "rendered"
    artifacts.mkdir(parents=True, exist_ok=True)
    for name, content in rendered.files.items():
        (artifacts / name).write_text(content)


async def validate_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    cfg = svc.config
    attempt = len(state.get("validations", [])) + 1
    _emit(paper, "validate", attempt=attempt)
    problem = static_check(state["rendered"])  # on this thread: see static_check's note
    if problem:
        result = static_failure(problem, svc.sandbox, attempt)
    else:
        result = await asyncio.to_thread(
            run_tests,
            state["rendered"],
            svc.sandbox,
            attempt,
            trusted=is_template_code(state["plan"]),
            timeout=cfg.timeout_s,
            memory=cfg.memory,
            gpu=cfg.gpu,
        )
    prev = state.get("timings", {}).get("validate", 0.0)
    update: dict[str, Any] = {
        "validations": [result],
        "timings": {"validate": round(prev + result.duration_s, 3)},
    }
    reviewer_code = cfg.interactive and bool(state["plan"].edited_by)  # goes back to the reviewer instead
    if not result.ok and not reviewer_code and not (svc.planner.can_repair and attempt <= cfg.max_repairs):
        state = {**state, "validations": [*state.get("validations", []), result]}
        what = "static checks" if result.stage == "static" else "tests"
        update["outcome"] = _outcome(
            state, "failed", f"{what} failed after {attempt} attempt(s): {summary_line(result.error)}"
        )
    return update


async def repair_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    _emit(paper, "repair")
    t0 = time.monotonic()
    plan, update = await _planner_call(
        svc, state, "repair", svc.planner.repair, paper, state["plan"], state["rendered"], state["validations"][-1]
    )
    prev = state.get("timings", {}).get("repair", 0.0)
    update["timings"] = {"repair": round(prev + time.monotonic() - t0, 3)}
    if plan is not None:
        update["plan"] = plan
    return update


async def review_result_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    if not svc.config.interactive:
        return {"review_next": "commit"}
    _emit(paper, "review result")
    answer = ReviewAnswer.model_validate(interrupt(_request(state, "result")))
    last = state["validations"][-1]
    if answer.action == "feedback" and answer.feedback:
        update, note = await _replan(svc, state, answer.feedback)
        decision = _decision("result", answer, last.attempt, note)
        return {**update, "reviews": [decision], "review_next": "render"}
    if answer.action == "edit":  # reviews.check_answer makes sure it carries files
        rendered = state["rendered"]
        plan = state["plan"].model_copy(update={"edited_by": answer.reviewer or "reviewer"})
        files = {**rendered.files, **answer.files, "plan.json": plan_json(plan)}
        edited = rendered.model_copy(update={"files": files})
        _write_artifacts(svc, paper, edited)  # idempotent: the same files on a re-run
        note = f"edited {', '.join(sorted(answer.files))}; validated again before any commit"
        return {
            "rendered": edited,
            "previous": rendered,
            "plan": plan,
            "reviews": [_decision("result", answer, last.attempt, note)],
            "review_next": "validate",
        }
    decision = _decision("result", answer, last.attempt)
    decided: PaperState = {**state, "reviews": [*state.get("reviews", []), decision]}
    if answer.action == "approve" and not last.ok:  # reviews.check_answer refuses this; never commit it
        why = "a failing result was approved; not committed"
        return {"outcome": _outcome(decided, "failed", why), "reviews": [decision]}
    if answer.action != "approve":
        reason = answer.feedback or "result rejected by reviewer"
        return {"outcome": _outcome(decided, "rejected", reason), "reviews": [decision]}
    return {"reviews": [decision], "review_next": "commit"}


def reviewed_by(decisions: list[ReviewDecision]) -> list[str]:
    """The values of the commit's `Lit2code-Reviewed-by:` trailers: one per reviewer, with what they did."""
    by: dict[str, list[str]] = {}
    for d in decisions:
        by.setdefault(d.reviewer, []).append(f"{d.stage} {d.action}")
    return [f"{who} ({', '.join(what)})" for who, what in by.items()]


async def commit_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    svc, paper = _svc(runtime), state["paper"]
    t0 = time.monotonic()
    _emit(paper, "commit")
    last = state["validations"][-1]
    sha = await asyncio.to_thread(
        svc.repo.commit_paper,
        state["rendered"],
        state["plan"],
        svc.config.run_id,
        last,
        reviewed_by(state.get("reviews", [])),
    )
    timings = {"commit": round(time.monotonic() - t0, 3)}
    state = {**state, "timings": {**state.get("timings", {}), **timings}}
    why = f"{last.tests.passed} tests passed; {state['triage'].reason}"  # the pick's reason, for report.md
    return {
        "outcome": _outcome(state, "committed", why, commit=sha),
        "timings": timings,
    }


def finish_node(state: PaperState, runtime: Runtime[Services]) -> dict:
    outcome = state["outcome"].model_copy(
        update={
            "timings": dict(state.get("timings", {})),
            "llm": state.get("llm") or LLMUsage(),
            "reviews": list(state.get("reviews", [])),
        }
    )
    _emit(state["paper"], "done", status=outcome.status)
    return {"outcomes": [outcome]}


def _after(next_node: str):
    def route(state: PaperState) -> str:
        return "finish" if state.get("outcome") else next_node

    return route


def _after_validate(state: PaperState) -> Literal["finish", "review_result", "repair"]:
    if state.get("outcome"):
        return "finish"
    if state["validations"][-1].ok or state["plan"].edited_by:  # a reviewer's code goes back to the reviewer
        return "review_result"
    return "repair"


def _after_review(state: PaperState) -> str:
    return "finish" if state.get("outcome") else state["review_next"]


# Transient errors retry; a ValueError (pydantic's ValidationError too) is a bug or bad input: no retry.
RETRY = RetryPolicy(max_attempts=2, retry_on=(OSError, TimeoutError, ConnectionError))


def build_paper_graph(default_services: Callable[[], Services] | None = None) -> StateGraph[Any, Services, Any, Any]:
    node = _binder(default_services)
    g = StateGraph(PaperState, context_schema=Services)
    g.add_node("triage", node(triage_node))
    g.add_node("plan", node(plan_node), retry_policy=RETRY)
    g.add_node("review_plan", node(review_plan_node))
    g.add_node("render", node(render_node))
    g.add_node("validate", node(validate_node), retry_policy=RETRY)
    g.add_node("repair", node(repair_node), retry_policy=RETRY)
    g.add_node("review_result", node(review_result_node))
    g.add_node("commit", node(commit_node), retry_policy=RETRY)
    g.add_node("finish", node(finish_node))
    g.add_edge(START, "triage")
    g.add_conditional_edges("triage", _after("plan"), ["plan", "finish"])
    g.add_conditional_edges("plan", _after("review_plan"), ["review_plan", "finish"])
    g.add_conditional_edges("review_plan", _after_review, ["render", "review_plan", "finish"])
    g.add_conditional_edges("render", _after("validate"), ["validate", "finish"])
    g.add_conditional_edges("validate", _after_validate, ["finish", "review_result", "repair"])
    g.add_conditional_edges("repair", _after("render"), ["render", "finish"])
    g.add_conditional_edges("review_result", _after_review, ["commit", "render", "validate", "finish"])
    g.add_conditional_edges("commit", _after("finish"), ["finish"])
    g.add_edge("finish", END)
    return g


# ---- outer graph -------------------------------------------------------------------------------
def parse_node(state: RunState, runtime: Runtime[Services]) -> dict:
    papers = digest.load_inputs([Path(p) for p in state["inputs"]])
    only = set(_svc(runtime).config.only)
    if only:  # `/lit2code retry|feedback PAPER_ID`: that paper of the digest alone
        papers = [p for p in papers if p.paper_id in only]
    get_stream_writer()({"stage": "parsed", "papers": len(papers)})
    return {"papers": papers}


def fan_out(state: RunState) -> list[Send]:
    return [Send("paper", {"paper": p}) for p in state["papers"]] or [Send("report", state)]


def paper_failed(state: PaperState, error: NodeError) -> dict:
    """A bug or unexpected error in one paper becomes its `failed` outcome; the batch goes on."""
    paper = state["paper"]
    err = error.error
    text = f"{type(err).__name__}: {err}" if isinstance(err, BaseException) else str(err)
    return {
        "outcomes": [
            Outcome(paper_id=paper.paper_id, title=paper.title, status="failed", reason=f"internal error: {text}")
        ]
    }


def report_node(state: RunState, runtime: Runtime[Services]) -> dict:
    write = _svc(runtime).on_report
    if write is not None:
        write(state.get("outcomes", []), state.get("papers", []))
    get_stream_writer()({"stage": "report"})
    return {}


def build_graph(default_services: Callable[[], Services] | None = None) -> StateGraph[Any, Services, Any, Any]:
    """The uncompiled run graph; runs compile it with the SQLite checkpointer (agent.workflow.runs).

    `default_services` serves runs started without a context (LangGraph Studio: agent/studio.py).
    """
    node = _binder(default_services)
    paper = build_paper_graph(default_services).compile()
    g = StateGraph(RunState, context_schema=Services)
    g.add_node("parse", node(parse_node))
    g.add_node("paper", paper, error_handler=paper_failed)
    g.add_node("report", node(report_node))
    g.add_edge(START, "parse")
    g.add_conditional_edges("parse", fan_out, ["paper", "report"])
    g.add_edge("paper", "report")
    g.add_edge("report", END)
    return g
