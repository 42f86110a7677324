"""runs/RUN_ID/report.json (the contract the README documents) and report.md (the same, for people)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from agent.models import LLMUsage, Outcome, Paper, Report, RunConfig, Totals

_TOTAL_KEY = {
    "committed": "committed",
    "skipped": "skipped",
    "failed": "failed",
    "rejected": "rejected",
    "pending_review": "pending",
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_report(
    config: RunConfig,
    papers: list[Paper],
    outcomes: list[Outcome],
    started_at: str,
    finished: bool,
    budget: str | None = None,
    in_progress: dict[str, Outcome] | None = None,
) -> Report:
    """One row per paper in digest order; papers without an outcome yet are `pending_review` (their row
    from `in_progress` when given: validations and review decisions so far)."""
    by_id: dict[str, Outcome] = {}
    for o in outcomes:
        by_id[o.paper_id] = o  # a re-run handler may repeat a paper: the last word wins
    rows: list[Outcome] = []
    totals = Totals(papers=len(papers))
    usage = LLMUsage()
    for p in papers:
        o = (
            by_id.get(p.paper_id)
            or (in_progress or {}).get(p.paper_id)
            or Outcome(
                paper_id=p.paper_id, title=p.title, status="pending_review", reason="waiting for a review or resume"
            )
        )
        setattr(totals, _TOTAL_KEY[o.status], getattr(totals, _TOTAL_KEY[o.status]) + 1)
        usage = usage + o.llm
        rows.append(o)
    return Report(
        run_id=config.run_id,
        inputs=config.inputs,
        started_at=started_at,
        finished_at=now() if finished else None,
        planner=config.planner,
        sandbox=config.sandbox,
        repo=config.repo,
        totals=totals,
        llm=usage,
        budget=budget if any(o.reason == "budget" for o in rows) else None,
        papers=rows,
    )


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a kill mid-write never leaves a truncated report


def write_report(run_dir: Path, report: Report) -> Path:
    path = run_dir / "report.json"
    _atomic_write(path, json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    _atomic_write(run_dir / "report.md", render_markdown(report))
    return path


def render_markdown(r: Report) -> str:
    t = r.totals
    lines = [
        f"# lit2code run {r.run_id}",
        "",
        f"- inputs: {', '.join(r.inputs)}",
        f"- repository: {r.repo}",
        f"- planner: {r.planner}; sandbox: {r.sandbox}",
        f"- started {r.started_at}; finished {r.finished_at or 'not yet'}",
        f"- **{t.papers} papers: {t.committed} committed, {t.skipped} skipped, {t.failed} failed, "
        f"{t.rejected} rejected, {t.pending} pending review**",
    ]
    if r.llm.calls or r.llm.cached:
        lines.append(
            f"- model: {r.llm.calls} calls ({r.llm.cached} answered from the cache), "
            f"{r.llm.prompt_tokens} prompt + {r.llm.completion_tokens} completion tokens, ${r.llm.cost_usd:.4f}"
        )
    if r.budget:
        lines.append(f"- **budget: {r.budget}; the papers marked `budget` were not processed**")
    fallbacks = [p for p in r.papers if p.fallback_from]
    if fallbacks:
        lines.append(
            f"- {len(fallbacks)} paper(s) planned by the offline planner because the model's answer was unusable "
            "(see each row; `--on-bad-answer fail` fails them instead)"
        )
    lines += [
        "",
        "| Paper | Status | Family | Tests | Commit | Model | Reason |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in r.papers:
        tests = f"{p.tests.passed} passed" + (f", {p.tests.failed} failed" if p.tests.failed else "")
        reason = p.reason.splitlines()[0][:160] if p.reason else ""
        if p.fallback_from:
            reason = f"planner: {p.planner or 'offline'}, fallback from {p.fallback_from[:200]}; {reason}"
        reason = reason.replace("|", "\\|")
        title = p.title.replace("|", "\\|")
        lines.append(
            f"| {title} (`{p.paper_id}`) | {p.status} | {p.family or ''} | "
            f"{tests if p.attempts else ''} | {(p.commit or '')[:10]} | {_llm_cell(p)} | {reason} |"
        )
    reviewed = [p for p in r.papers if p.reviews]
    if reviewed:
        lines += ["", "## Review decisions", ""]
        for p in reviewed:
            lines.append(f"- {p.title} (`{p.paper_id}`):")
            for d in p.reviews:
                said = f": {d.reason}" if d.reason else ""
                came = f" -> {d.note}" if d.note else ""
                lines.append(f"  - {d.stage} {d.action} by {d.reviewer} at {d.at}{said}{came}")
    return "\n".join(lines) + "\n"


def _llm_cell(p: Outcome) -> str:
    u = p.llm
    if not (u.calls or u.cached):
        return ""
    cost = f", ${u.cost_usd:.4f}" if u.cost_usd else ""
    return f"{u.calls} calls, {u.prompt_tokens + u.completion_tokens} tok{cost}" + (
        f", {u.cached} cached" if u.cached else ""
    )
