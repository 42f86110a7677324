"""Reviews of an --interactive run: what is pending, answering it, checking edits, and the audit record.
Shared by every review front end (the terminal app of `lit2code review`, its scripting flags, and the
server's PR commands); front ends show what this module returns and pass answers through it.

A paper has at most one pending review at a time (its plan, later its result), so answers are keyed
by paper id. An answer says which item it answers (its stage, and in the app its interrupt id): an
answer for a paper with nothing pending, or whose item changed since the reviewer saw it, is refused,
never applied to another item.
"""

from __future__ import annotations

import difflib
import getpass
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from agent import report as reports
from agent.families import FamilySpec, load_families
from agent.models import Paper, Plan, RenderedModule, Report, ReviewAnswer, ReviewRequest, RunConfig
from agent.render import RenderError, render
from agent.workflow import runs

ACTIONS = ("approve", "reject", "feedback")  # what --answer takes (an edit needs the app)
# The fields of a plan that a reviewer edits as YAML; the rest (ids, provenance) is kept as it was.
EDITABLE = (
    "family",
    "method_name",
    "module_name",
    "class_name",
    "summary",
    "components",
    "hyperparameters",
    "options",
    "tensor_shapes",
    "tests",
    "not_implemented",
    "slots",
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReviewError(ValueError):
    """An answer that cannot be applied; the message names the paper and says what to do."""


class PlanEditError(ReviewError):
    """An edited plan that is not valid; `errors` lists every problem, one line each."""

    def __init__(self, paper_id: str, errors: list[str]) -> None:
        super().__init__(f"{paper_id}: the edited plan is not valid: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class PendingReview:
    interrupt_id: str
    request: ReviewRequest

    @property
    def paper_id(self) -> str:
        return self.request.paper_id

    @property
    def stage(self) -> str:
        return self.request.kind

    @property
    def passing(self) -> bool:
        """A result whose tests passed (what `approve all passing results` approves)."""
        v = self.request.validation
        return self.stage == "result" and v is not None and v.ok


async def pending(config: RunConfig) -> list[PendingReview]:
    """The run's pending reviews, in the order the run reached them."""
    found = await runs.pending_interrupts(config)
    return [PendingReview(iid, req) for iid, req in found.items()]


def reviewer() -> str:
    """Who is reviewing: git's user.name where one is configured, else the login name."""
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name, no passwd entry
        return "unknown"


# ---- answers -----------------------------------------------------------------------------------
def check_answer(item: PendingReview, answer: ReviewAnswer) -> ReviewAnswer:
    """The answer as the graph will take it (its stage and item filled in), or ReviewError saying why not."""
    pid, req = item.paper_id, item.request
    if answer.interrupt_id is not None and answer.interrupt_id != item.interrupt_id:
        now = f"a new {req.kind} review" if answer.stage == req.kind else f"its {req.kind} review"
        what = f"{answer.stage} review" if answer.stage else "review"
        raise ReviewError(
            f"{pid}: the {what} you answered is no longer pending ({now} is pending now); "
            "look at it again before answering"
        )
    if answer.stage is not None and answer.stage != req.kind:
        raise ReviewError(f"{pid}: its {answer.stage} review is not pending (its {req.kind} review is)")
    if answer.action == "edit":
        if req.kind == "plan":
            if answer.plan is None:
                raise ReviewError(f"{pid}: an edit of a plan needs the edited plan")
            if answer.plan.paper_id != pid:
                raise ReviewError(f"{pid}: the edited plan is for paper {answer.plan.paper_id!r}")
        else:
            if not answer.files:
                raise ReviewError(f"{pid}: an edit of a result needs the edited files")
            allowed = editable_files(item)
            wrong = sorted(set(answer.files) - set(allowed))
            if wrong:
                raise ReviewError(f"{pid}: only {', '.join(allowed)} can be edited, not {', '.join(wrong)}")
    if answer.action == "feedback" and not (answer.feedback or "").strip():
        raise ReviewError(f"{pid}: feedback needs text")
    if answer.action == "approve" and req.kind == "result" and not item.passing:
        raise ReviewError(
            f"{pid}: its tests fail, so it cannot be committed; edit it again, give feedback or reject it"
        )
    return answer.model_copy(update={"stage": req.kind, "interrupt_id": item.interrupt_id})


def match(items: list[PendingReview], answers: dict[str, ReviewAnswer]) -> dict[str, dict[str, Any]]:
    """{paper id: answer} -> the graph's {interrupt id: answer} map; ReviewError for a paper that has no
    pending review (unknown, or answered already) or for an answer that does not fit its item."""
    by_paper = {item.paper_id: item for item in items}
    unknown = sorted(set(answers) - set(by_paper))
    if unknown:
        waiting = ", ".join(sorted(by_paper)) or "none"
        raise ReviewError(f"no pending review for {', '.join(unknown)} (pending: {waiting})")
    return {
        by_paper[pid].interrupt_id: check_answer(by_paper[pid], ans).model_dump(mode="json")
        for pid, ans in answers.items()
    }


def stamp(answers: dict[str, ReviewAnswer], who: str | None = None) -> dict[str, ReviewAnswer]:
    """The answers signed: who answered (`who`, else `reviewer()`) and when, unless they say already."""
    name = who or reviewer()
    at = reports.now()
    return {pid: a.model_copy(update={"reviewer": a.reviewer or name, "at": a.at or at}) for pid, a in answers.items()}


async def answer(
    config: RunConfig,
    answers: dict[str, ReviewAnswer],
    on_event: Callable[[dict[str, Any]], None] | None = None,
    who: str | None = None,
) -> tuple[Report, list[ReviewRequest]]:
    """Apply the answers (signed by `who`, else `reviewer()`) and continue the run until it ends or
    waits for reviews again. The decisions land in each paper's `reviews` in report.json."""
    resume = match(await pending(config), stamp(answers, who))
    return await runs.execute(config, resume=resume, on_event=on_event)


def parse_answer(text: str) -> tuple[str, ReviewAnswer]:
    """`PAPER_ID[@plan|@result]=approve|reject[:REASON]|feedback:TEXT` -> (paper id, answer)."""
    target, sep, what = text.partition("=")
    pid, _, stage = target.strip().partition("@")
    action, _, rest = what.partition(":")
    action = action.strip().lower()
    usage = "use PAPER_ID=approve, PAPER_ID=reject[:REASON] or PAPER_ID=feedback:TEXT"
    if not sep or not pid or action not in ACTIONS:
        raise ReviewError(f"--answer {text!r}: {usage}")
    if stage and stage not in ("plan", "result"):
        raise ReviewError(f"--answer {text!r}: the stage after @ is plan or result")
    if action == "feedback" and not rest.strip():
        raise ReviewError(f"--answer {text!r}: feedback needs text after 'feedback:'")
    reason = rest.strip() or None
    if action == "approve" and reason:
        raise ReviewError(f"--answer {text!r}: approve takes no text")
    return pid.strip(), ReviewAnswer(
        action=action,  # type: ignore[arg-type]
        feedback=reason if action != "reject" else (reason or "rejected by reviewer"),
        stage=stage or None,  # type: ignore[arg-type]
    )


def approve_all(items: list[PendingReview], results_only: bool = False) -> dict[str, ReviewAnswer]:
    """Approvals for every pending plan (unless `results_only`) and every passing result, each for the
    exact item; failing results are left for the reviewer."""
    return {
        i.paper_id: ReviewAnswer(action="approve", stage=i.request.kind, interrupt_id=i.interrupt_id)
        for i in items
        if i.passing or (i.stage == "plan" and not results_only)
    }


def listing(items: list[PendingReview]) -> list[dict[str, Any]]:
    """The pending items as `lit2code review RUN_ID --list --json` prints them."""
    rows = []
    for i in items:
        plan, v = i.request.plan, i.request.validation
        rows.append(
            {
                "paper_id": i.paper_id,
                "title": i.request.title,
                "stage": i.stage,
                "interrupt_id": i.interrupt_id,
                "family": plan.family,
                "method_name": plan.method_name,
                "module_name": plan.module_name,
                "confidence": plan.confidence,
                "planner": plan.planner,
                "edited_by": plan.edited_by,
                "review_notes": plan.review_notes,
                "validation": None
                if v is None
                else {
                    "ok": v.ok,
                    "attempt": v.attempt,
                    "stage": v.stage,
                    **v.tests.model_dump(),
                    "backend": v.backend,
                    "device": v.device,
                    "duration_s": v.duration_s,
                    "mode": v.mode,
                },
            }
        )
    return rows


# ---- what a reviewer looks at ------------------------------------------------------------------
def paper_of(req: ReviewRequest) -> Paper:
    return Paper(paper_id=req.paper_id, title=req.title, abstract=req.abstract, url=req.url)


def family_of(item: PendingReview) -> FamilySpec | None:
    return load_families().get(item.request.plan.family)


def code(item: PendingReview) -> RenderedModule | None:
    """The files under review: at a result, what was validated; at a plan, what the plan renders to
    (None when it does not render; the plan review shows why)."""
    if item.request.rendered is not None:
        return item.request.rendered
    family = family_of(item)
    if family is None:
        return None
    try:
        return render(item.request.plan, paper_of(item.request), family)
    except RenderError:
        return None


def editable_files(item: PendingReview) -> list[str]:
    """The files a result edit may change: the module and its tests."""
    mod = item.request.plan.module_name
    return [f"{mod}.py", f"test_{mod}.py"]


def diff(item: PendingReview) -> str:
    """A unified diff from the previous attempt's files to these (empty without a previous attempt)."""
    before, after = item.request.previous, item.request.rendered
    if before is None or after is None:
        return ""
    out: list[str] = []
    for name in sorted(set(before.files) | set(after.files)):
        a, b = before.files.get(name, ""), after.files.get(name, "")
        if a != b:
            out += difflib.unified_diff(
                a.splitlines(keepends=True), b.splitlines(keepends=True), f"a/{name}", f"b/{name}"
            )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


# ---- editing -----------------------------------------------------------------------------------
def plan_yaml(item: PendingReview) -> str:
    """The plan as the YAML a reviewer edits: the editable fields, with the family's choices as comments."""
    plan = item.request.plan
    data = {k: v for k, v in plan.model_dump(mode="json", include=set(EDITABLE)).items() if k != "slots" or v}
    head = [
        f"# The plan of {plan.paper_id}: {plan.paper_title or item.request.title}",
        "# Save and quit to apply it. Leave it unchanged, or empty the file, to abandon the edit.",
    ]
    family = family_of(item)
    if family is not None:
        params = [
            f"{n} ({p.type}{'' if p.min is None and p.max is None else f', {p.min:g}..{p.max:g}'}, default {p.default})"
            for n, p in family.parameters.items()
        ]
        head.append(f"# {family.id} parameters: {', '.join(params) or 'none'}")
        head.append(f"# {family.id} options: {', '.join(family.options) or 'none'}")
    for key, where in plan.inferred.items():
        head.append(f"#   {key}: {where}")
    return "\n".join(head) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _param_problem(family: FamilySpec, name: str, value: object) -> str | None:
    spec = family.parameters.get(name)
    if spec is None:
        return f"hyperparameters.{name}: {family.id} has no such parameter (it has {', '.join(family.parameters)})"
    kinds: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}
    if not isinstance(value, kinds[spec.type]) or (spec.type != "bool" and isinstance(value, bool)):
        return f"hyperparameters.{name}: {value!r} is not a {spec.type}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        low = -float("inf") if spec.min is None else spec.min
        high = float("inf") if spec.max is None else spec.max
        if not low <= value <= high:
            return f"hyperparameters.{name}: {value} is outside {low:g}..{high:g}"
    return None


def plan_from_yaml(item: PendingReview, text: str) -> Plan | None:
    """The edited plan, checked against the Plan schema, the family's parameters and options, and a trial
    render; None when the edit was abandoned (unchanged or empty); PlanEditError listing every problem."""
    pid = item.paper_id
    if not text.strip() or text == plan_yaml(item):
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanEditError(pid, [f"not YAML: {' '.join(str(exc).split())}"]) from exc
    if data is None:
        return None
    if not isinstance(data, dict):
        raise PlanEditError(pid, ["the plan must be a mapping of fields (family: ..., method_name: ...)"])
    errors = [f"{k}: not an editable field (edit {', '.join(EDITABLE)})" for k in data if k not in EDITABLE]
    original = item.request.plan
    try:
        plan = Plan.model_validate({**original.model_dump(), **{k: v for k, v in data.items() if k in EDITABLE}})
    except ValidationError as exc:
        for e in exc.errors():
            errors.append(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
        raise PlanEditError(pid, errors) from exc
    family = load_families().get(plan.family)
    if family is None or family.llm_only:
        errors.append(f"family: {plan.family!r} is not a family the templates have")
    for field in ("module_name", "class_name"):
        if not _IDENT.match(getattr(plan, field)):
            errors.append(f"{field}: {getattr(plan, field)!r} is not a Python identifier")
    if family is not None and not family.llm_only:
        errors += [p for n, v in plan.hyperparameters.items() if (p := _param_problem(family, n, v))]
        errors += [f"options: {family.id} has no option {o!r}" for o in plan.options if o not in family.options]
    if errors:
        raise PlanEditError(pid, errors)
    assert family is not None
    changed = {k for k, v in plan.hyperparameters.items() if original.hyperparameters.get(k) != v}
    inferred = {**plan.inferred, **dict.fromkeys(sorted(changed), "reviewer edit")}
    plan = plan.model_copy(update={"paper_id": pid, "inferred": inferred})
    try:
        render(plan, paper_of(item.request), family)
    except RenderError as exc:
        raise PlanEditError(pid, [f"it does not render: {exc}"]) from exc
    return plan


def edit_plan(item: PendingReview, text: str) -> ReviewAnswer | None:
    """The answer for an edited plan's YAML (None: abandoned); PlanEditError when it is not valid."""
    plan = plan_from_yaml(item, text)
    if plan is None:
        return None
    return ReviewAnswer(action="edit", plan=plan, stage="plan", interrupt_id=item.interrupt_id)


def edit_file(item: PendingReview, name: str, text: str) -> ReviewAnswer | None:
    """The answer for one edited file of a result (None: unchanged). The graph validates it in the
    sandbox before it can be approved, and the plan records the reviewer as its editor."""
    if name not in editable_files(item):
        raise ReviewError(f"{item.paper_id}: only {', '.join(editable_files(item))} can be edited")
    current = item.request.rendered.files.get(name) if item.request.rendered else None
    if current is None:
        raise ReviewError(f"{item.paper_id}: nothing to edit before its code is rendered")
    if text == current:
        return None
    return ReviewAnswer(action="edit", files={name: text}, stage="result", interrupt_id=item.interrupt_id)
