"""What lit2code writes on GitHub: the pull request's per-paper table, the check run's summary and the one
status comment (edited in place), all from the same rows. Titles and reasons come from abstracts and
models: they are escaped for Markdown tables and cut short."""

from __future__ import annotations

from typing import Any

from agent.github.events import MARK

ICON = {"committed": "✅", "skipped": "⏭️", "failed": "❌", "rejected": "🚫", "pending_review": "⏸️"}


def _cell(text: Any, limit: int = 160) -> str:
    flat = " ".join(str(text or "").split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def row_of(paper: dict[str, Any], planner: str) -> dict[str, Any]:
    """A report.json paper as a table row."""
    tests = paper.get("tests") or {}
    return {
        "title": paper.get("title", ""),
        "status": paper.get("status", ""),
        "reason": paper.get("reason", ""),
        "family": paper.get("family") or "",
        "tests": f"{tests.get('passed', 0)} passed, {tests.get('failed', 0)} failed" if paper.get("attempts") else "",
        "planner": planner,
        "commit": (paper.get("commit") or "")[:10],
    }


def counts(rows: dict[str, dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows.values():
        out[row["status"]] = out.get(row["status"], 0) + 1
    return out


def summary_line(rows: dict[str, dict[str, Any]]) -> str:
    c = counts(rows)
    parts = [f"{c.get(s, 0)} {s}" for s in ("committed", "skipped", "failed", "rejected") if c.get(s)]
    return f"{len(rows)} papers: " + (", ".join(parts) or "none processed")


def table(rows: dict[str, dict[str, Any]]) -> str:
    lines = ["| | Paper | Status | Family | Tests | Planner | Reason |", "| --- | --- | --- | --- | --- | --- | --- |"]
    order = {"committed": 0, "failed": 1, "rejected": 2, "skipped": 3}
    for pid, r in sorted(rows.items(), key=lambda kv: (order.get(kv[1]["status"], 9), kv[0])):
        lines.append(
            f"| {ICON.get(r['status'], '')} | {_cell(r['title'], 90)} (`{_cell(pid, 60)}`) | {r['status']} | "
            f"{_cell(r['family'])} | {_cell(r['tests'])} | {_cell(r['planner'])} | {_cell(r['reason'])} |"
        )
    return "\n".join(lines)


def pr_body(digest: str, source: str, rows: dict[str, dict[str, Any]]) -> str:
    return (
        f"{MARK}\nlit2code implemented the papers of `{digest}` ({source}). Each paper is one commit with its "
        f"provenance in the trailers; every module's tests passed in lit2code's sandbox.\n\n"
        f"**{summary_line(rows)}**\n\n{table(rows)}\n\n"
        "Commands (in a comment on this pull request, by someone with write access): "
        "`/lit2code reject PAPER_ID [reason]` drops that paper's commit, `/lit2code feedback PAPER_ID TEXT` "
        "re-plans it with the feedback, `/lit2code retry PAPER_ID` processes it again.\n"
    )


def status_comment(state: str, detail: str = "", link: str | None = None) -> str:
    text = f"{MARK}\n**lit2code**: {state}"
    if link:
        text += f" ({link})"
    return text + (f"\n\n{detail}" if detail else "") + "\n"
