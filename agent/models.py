"""Pydantic models: the contracts between the pipeline's stages.

Every value that crosses a stage boundary (and so lands in a LangGraph checkpoint) is one of
these models; `agent.checkpoint` registers them with the checkpoint serializer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from agent.registry import PLANNERS, SANDBOXES

Status = Literal["committed", "skipped", "failed", "rejected", "pending_review"]
ValidationMode = Literal["warm", "pooled", "cold"]
ParamValue = int | float | bool | str
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class Paper(BaseModel):
    """One paper entry of a digest."""

    paper_id: str = Field(description="arXiv id when known, else a stable slug plus a short title hash")
    title: str
    abstract: str
    url: str | None = None
    authors: int | None = Field(default=None, description="author count when the digest gives it")
    date: str | None = None
    upvotes: int | None = None
    source: str = Field(default="", description="input file and line the entry came from, e.g. 'x.txt:13'")


class Triage(BaseModel):
    """The decision whether a paper is implementable, and under which family."""

    family: str = Field(description="a family id from templates/, or 'skip'")
    reason: str
    cues: list[str] = Field(default_factory=list, description="the cue words that decided")
    scores: dict[str, float] = Field(default_factory=dict)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0, description="how sure the planner is of this decision")
    fallback_from: str | None = Field(
        default=None,
        description="'llm: <reason>' when the offline planner decided because the model's answer was unusable",
    )


class TestSpec(BaseModel):
    __test__ = False  # not a pytest class

    name: str
    checks: str = Field(description="the defining property the test asserts")


class Plan(BaseModel):
    """What to implement for one paper; renders deterministically through the family's templates."""

    paper_id: str
    paper_title: str = ""
    paper_url: str | None = None
    family: str
    method_name: str = Field(description="the paper's name for its method, e.g. 'SMoRA'")
    module_name: str = Field(description="python module name, a valid identifier")
    class_name: str = Field(description="main class name, a valid identifier")
    summary: str
    components: list[str] = Field(default_factory=list)
    hyperparameters: dict[str, ParamValue] = Field(default_factory=dict)
    options: list[str] = Field(default_factory=list, description="family options switched on")
    tensor_shapes: dict[str, str] = Field(default_factory=dict)
    tests: list[TestSpec] = Field(default_factory=list)
    not_implemented: list[str] = Field(default_factory=list)
    inferred: dict[str, str] = Field(
        default_factory=dict,
        description="field -> where its value came from ('abstract: ...' or 'family default')",
    )
    slots: dict[str, str] = Field(default_factory=dict, description="code slots written by an LLM")
    confidence: float = Field(ge=0.0, le=1.0, default=0.5)
    planner: str = "offline"
    edited_by: str | None = Field(default=None, description="the reviewer who edited this plan or its code")
    fallback_from: str | None = Field(
        default=None,
        description="'llm: <reason>' when `planner` made this plan because the model's answer was unusable",
    )
    review_notes: list[str] = Field(
        default_factory=list, description="what the planner applied of a reviewer's feedback, and what it could not"
    )


class RenderedModule(BaseModel):
    """The files of one paper's package, relative to papers/SLUG/."""

    slug: str
    files: dict[str, str]


class TestCounts(BaseModel):
    __test__ = False

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0


class SandboxResult(BaseModel):
    """The JSON contract of `lit2code sandbox exec`."""

    exit_code: int
    timed_out: bool = False
    oom_killed: bool = False
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    backend: str
    image: str | None = None
    gpu: bool = False
    gpu_note: str | None = Field(default=None, description="why the GPU was or was not used")
    mode: ValidationMode = Field(
        default="cold", description="warm: a reused warm worker; pooled: a single-use one started ahead; cold"
    )
    mode_note: str | None = Field(
        default=None, description="why a validation meant to be warm ran cold, or why its worker was retired"
    )


class Validation(BaseModel):
    """One validation attempt: static checks, then the module's tests in the sandbox."""

    attempt: int
    ok: bool
    stage: Literal["static", "tests"]
    tests: TestCounts = Field(default_factory=TestCounts)
    backend: str = ""
    device: str = "cpu"
    duration_s: float = 0.0
    error: str | None = Field(default=None, description="what failed, trimmed to what matters")
    mode: ValidationMode = Field(default="cold", description="how the sandbox ran it: warm, pooled or cold")
    mode_note: str | None = Field(
        default=None, description="why it ran cold when a warm path was meant, or why its worker was retired"
    )


class LLMUsage(BaseModel):
    """Model use: calls made (cache hits are counted apart and cost nothing), tokens, cost, latency."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: int = Field(default=0, description="answers served from the response cache")
    latency_s: float = Field(default=0.0, description="seconds spent waiting for the model")

    def __add__(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            cached=self.cached + other.cached,
            latency_s=round(self.latency_s + other.latency_s, 3),
        )


class ReviewDecision(BaseModel):
    """One answer to one review, as the paper's record keeps it (report.json, the commit's trailer)."""

    stage: Literal["plan", "result"]
    action: Literal["approve", "reject", "edit", "feedback"]
    reviewer: str = Field(default="unknown", description="git user.name of the reviewer, else $USER")
    at: str = Field(default="", description="when it was answered (ISO 8601, UTC)")
    reason: str | None = Field(default=None, description="the reason of a reject, the text of a feedback")
    note: str | None = Field(default=None, description="what came of it: what the planner applied, what was edited")
    files: list[str] = Field(default_factory=list, description="the files a result edit changed")
    attempt: int = Field(default=0, description="the validation attempt a result review answered")


class Outcome(BaseModel):
    """The end of one paper's way through the pipeline; one report row."""

    paper_id: str
    title: str
    status: Status
    family: str | None = None
    reason: str = ""
    cues: list[str] = Field(default_factory=list)
    attempts: int = 0
    tests: TestCounts = Field(default_factory=TestCounts)
    commit: str | None = None
    slug: str | None = None
    validations: list[Validation] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    llm: LLMUsage = Field(default_factory=LLMUsage)
    planner: str | None = Field(default=None, description="the planner that made the paper's plan (or triage)")
    fallback_from: str | None = Field(
        default=None, description="'llm: <reason>' when the offline planner stood in for an unusable model answer"
    )
    reviews: list[ReviewDecision] = Field(default_factory=list, description="the reviewers' decisions, in order")


class ReviewRequest(BaseModel):
    """The payload of an interrupt() in interactive mode."""

    kind: Literal["plan", "result"]
    paper_id: str
    title: str
    plan: Plan
    validation: Validation | None = None
    abstract: str = ""
    url: str | None = None
    reason: str = Field(default="", description="the triage's reason for the family")
    rendered: RenderedModule | None = Field(default=None, description="the validated files, at a result review")
    previous: RenderedModule | None = Field(default=None, description="the previous attempt's files, for a diff")


class ReviewAnswer(BaseModel):
    """What a reviewer answers to a ReviewRequest."""

    action: Literal["approve", "reject", "edit", "feedback"]
    plan: Plan | None = Field(default=None, description="the edited plan, with action 'edit' at a plan review")
    files: dict[str, str] = Field(
        default_factory=dict, description="edited files (name -> content), with action 'edit' at a result review"
    )
    feedback: str | None = Field(default=None, description="the feedback text, or the reason of a reject")
    stage: Literal["plan", "result"] | None = Field(default=None, description="the review it answers")
    interrupt_id: str | None = Field(default=None, description="the pending item the reviewer saw")
    reviewer: str | None = None
    at: str | None = None


def _cpu_count() -> int:
    return max(1, os.cpu_count() or 2)


def _known(registry: dict[str, object], kind: str, extra: tuple[str, ...] = ()) -> Callable[[str], str]:
    def check(name: str) -> str:
        if name not in registry and name not in extra:
            raise ValueError(f"unknown {kind} {name!r}; use one of {', '.join((*extra, *registry))}")
        return name

    return check


class RunConfig(BaseModel):
    """Everything a run needs to be resumed; saved as runs/RUN_ID/config.json.

    The one owner of run options' defaults and bounds: the CLI and the server pass only what a user set.
    """

    run_id: str = Field(pattern=RUN_ID_PATTERN, description="names the run folder: letters, digits, '.', '_', '-'")
    inputs: list[str]
    repo: str
    planner: Annotated[str, AfterValidator(_known(PLANNERS, "planner"))] = "offline"
    model: str | None = None
    # `auto` is resolved to a backend when the run is created (agent.sandbox.select); config.json keeps the result.
    sandbox: Annotated[str, AfterValidator(_known(SANDBOXES, "sandbox backend", ("auto",)))] = "auto"
    gpu: Literal["auto", "on", "off"] = "auto"
    timeout_s: float = Field(default=300.0, gt=0, le=24 * 3600, description="seconds for one module's tests")
    memory: str = Field(default="4g", pattern=r"^\d+(\.\d+)?[kmgKMG]?$", description="e.g. 512m, 4g")
    concurrency: int = Field(default_factory=_cpu_count, ge=1, le=64, description="papers processed at once")
    interactive: bool = False
    max_repairs: int = Field(default=2, ge=0, le=10)
    max_cost: float | None = Field(default=None, ge=0, description="USD; no new model call once spent")
    max_tokens: int | None = Field(default=None, ge=0, description="prompt + completion tokens; no new call once spent")
    cache: bool = Field(default=True, description="use the model response cache")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, description="skip a pick triaged less sure than this")
    only: list[str] = Field(default_factory=list, description="process only these paper ids of the inputs")
    feedback: dict[str, str] = Field(default_factory=dict, description="paper id -> reviewer feedback for its plan")
    on_bad_answer: Literal["offline", "fail"] = Field(
        default="offline",
        description="llm planner: when a paper's answer stays unusable after the corrective retry, plan it "
        "with the offline planner (recorded as a fallback) or fail it",
    )


class Totals(BaseModel):
    papers: int = 0
    committed: int = 0
    skipped: int = 0
    failed: int = 0
    rejected: int = 0
    pending: int = 0


class Report(BaseModel):
    """runs/RUN_ID/report.json: a stable contract that other tools read (see the README)."""

    run_id: str
    inputs: list[str]
    started_at: str
    finished_at: str | None
    planner: str
    sandbox: str
    repo: str
    totals: Totals
    llm: LLMUsage = Field(default_factory=LLMUsage)
    budget: str | None = Field(default=None, description="the budget that stopped model calls, if one did")
    papers: list[Outcome]
