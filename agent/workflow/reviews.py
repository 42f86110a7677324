"""Reviews of an --interactive run: what is pending, and answering it. Shared by every review front end
(the terminal prompt of `lit2code review`, its scripting flags, and the server's PR commands).

A paper has at most one pending review at a time (its plan, later its result), so answers are keyed
by paper id; an answer for a paper with nothing pending is refused, never applied to another item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.models import Report, ReviewAnswer, ReviewRequest, RunConfig
from agent.workflow import runs


class ReviewError(ValueError):
    """An answer that cannot be applied; the message names the paper and says what to do."""


@dataclass(frozen=True)
class PendingReview:
    interrupt_id: str
    request: ReviewRequest

    @property
    def paper_id(self) -> str:
        return self.request.paper_id


async def pending(config: RunConfig) -> list[PendingReview]:
    """The run's pending reviews, in the order the run reached them."""
    found = await runs.pending_interrupts(config)
    return [PendingReview(iid, req) for iid, req in found.items()]


def check_answer(item: PendingReview, answer: ReviewAnswer) -> ReviewAnswer:
    """The answer as the graph will take it, or ReviewError saying why it cannot be."""
    pid = item.paper_id
    if answer.action == "edit":
        if answer.plan is None:
            raise ReviewError(f"{pid}: an edit needs the edited plan")
        if item.request.kind != "plan":
            raise ReviewError(f"{pid}: only a plan can be edited here; its {item.request.kind} is pending")
        if answer.plan.paper_id != pid:
            raise ReviewError(f"{pid}: the edited plan is for paper {answer.plan.paper_id!r}")
    if answer.action == "feedback" and not (answer.feedback or "").strip():
        raise ReviewError(f"{pid}: feedback needs text")
    return answer


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


async def answer(
    config: RunConfig,
    answers: dict[str, ReviewAnswer],
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Report, list[ReviewRequest]]:
    """Apply the answers and continue the run until it ends or waits for reviews again."""
    resume = match(await pending(config), answers)
    return await runs.execute(config, resume=resume, on_event=on_event)
