"""A rich progress bar fed by the graph's custom stream events (one per stage per paper)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RunProgress:
    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self.counts: Counter[str] = Counter()
        self.active: dict[str, str] = {}
        self.llm: dict[str, Any] = {}
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            disable=not enabled,
        )
        self.task = self.progress.add_task("papers", total=None, detail="parsing")

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def on_event(self, event: dict[str, Any]) -> None:
        stage = event.get("stage")
        if stage == "parsed":
            self.progress.update(self.task, total=event["papers"])
        elif stage == "done":
            self.counts[event["status"]] += 1
            self.active.pop(event["paper_id"], None)
            self.progress.advance(self.task)
            if self.enabled and event["status"] in {"committed", "failed"}:
                colour = "green" if event["status"] == "committed" else "red"
                self.console.print(f"[{colour}]{event['status']:>9}[/] {event['paper_id']}  {event['title'][:70]}")
        elif "paper_id" in event:
            self.active[event["paper_id"]] = stage or ""
        if "llm_total" in event:
            self.llm = event["llm_total"]
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        busy = Counter(self.active.values())
        now = ", ".join(f"{v} {k}" for k, v in sorted(busy.items()) if k)
        model = ""
        if self.llm:
            u = self.llm
            model = (
                f"model {u['calls']} calls, {u['prompt_tokens'] + u['completion_tokens']} tok, "
                f"${u['cost_usd']:.4f}" + (f", {u['cached']} cached" if u.get("cached") else "")
            )
        self.progress.update(self.task, detail=" | ".join(x for x in (counts, now, model) if x))
