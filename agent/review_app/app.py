"""`lit2code review RUN_ID`: the pending reviews of a run, one key per decision.

Left: the pending items (paper, stage, family, test counts). Middle: the paper, its plan (parameters
with the abstract's words as evidence, options, what is not implemented, confidence) and, for a
result, its validation. Right: the module, its tests, the diff against the previous attempt and the
failing output, syntax-highlighted.

An answer is sent at once: the run goes on in the background with the papers answered so far while
the reviewer looks at the next item (see "Reviewing" in the README for when the run can take it).
Quitting leaves every unanswered item pending, in the run's checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Input, Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from agent.models import Report, ReviewAnswer, RunConfig
from agent.workflow import reviews, runs
from agent.workflow.reviews import PendingReview, PlanEditError, ReviewError

THEME = "monokai"


@dataclass
class Summary:
    """What a review session did: the answers sent, the items left pending, the last report."""

    answered: dict[str, str] = field(default_factory=dict)  # paper id -> action
    pending: int = 0
    report: Report | None = None
    errors: list[str] = field(default_factory=list)


class TextPrompt(ModalScreen[str | None]):
    """One line of text (a reason, a feedback); Enter sends it, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, hint: str, placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.hint, self.placeholder = title, hint, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Label(self.hint, id="dialog-hint")
            yield Input(placeholder=self.placeholder, id="dialog-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditErrors(ModalScreen[bool]):
    """Why an edited plan is not valid; `e` edits it again, Escape abandons the edit."""

    BINDINGS = [Binding("e", "again", "edit again"), Binding("escape", "abandon", "abandon the edit")]

    def __init__(self, paper_id: str, errors: list[str]) -> None:
        super().__init__()
        self.paper_id, self.errors = paper_id, errors

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"The edited plan of {self.paper_id} is not valid; nothing was applied:", id="dialog-title")
            yield Static(Text("\n".join(f"• {e}" for e in self.errors), style="red"), id="edit-errors")
            yield Label("[b]e[/] edit again   [b]escape[/] abandon the edit (the plan stays as it was)")

    def action_again(self) -> None:
        self.dismiss(True)

    def action_abandon(self) -> None:
        self.dismiss(False)


class ReviewApp(App[Summary]):
    """The review app over one run; `run()` returns a Summary."""

    TITLE = "lit2code review"
    CSS = """
    #items { width: 38; border: round $primary; }
    #detail { width: 2fr; border: round $secondary; padding: 0 1; }
    #code { width: 3fr; }
    #status { height: 1; background: $boost; padding: 0 1; }
    TextPrompt, EditErrors { align: center middle; }
    #dialog { width: 90; height: auto; max-height: 80%; border: thick $accent; background: $surface; padding: 1 2; }
    #dialog-hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("a", "approve", "approve"),
        Binding("e", "edit", "edit"),
        Binding("r", "reject", "reject"),
        Binding("f", "feedback", "feedback"),
        Binding("s", "skip", "skip"),
        Binding("A", "approve_passing", "approve all passing"),
        Binding("m", "tab('module')", "module", show=False),
        Binding("t", "tab('tests')", "tests", show=False),
        Binding("d", "tab('diff')", "diff", show=False),
        Binding("o", "tab('output')", "output", show=False),
        Binding("q", "quit_review", "quit"),
        Binding("down,j", "move(1)", "next", show=False),
        Binding("up,k", "move(-1)", "previous", show=False),
    ]

    def __init__(self, config: RunConfig, who: str | None = None, editor: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.who = who or reviews.reviewer()
        self.editor = editor
        self.items: list[PendingReview] = []
        self.sent: dict[str, str] = {}  # interrupt id -> action, until the run has taken it
        self.queue: dict[str, ReviewAnswer] = {}  # paper id -> answer, waiting for the run
        self.summary = Summary()
        self.messages: list[str] = []  # what the status line said, in order (tests read it)
        self.busy = False  # the run is going on with answers
        self._quitting = False
        self._current: str | None = None  # the interrupt id shown

    # ---- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(id="items")
            with VerticalScroll(id="detail"):
                yield Static(id="paper")
                yield Static(id="validation")
                yield Static(id="plan")
                yield Static(id="abstract")
            with TabbedContent(id="code", initial="module"):
                with TabPane("Module", id="module"), VerticalScroll():
                    yield Static(id="module-code")
                with TabPane("Tests", id="tests"), VerticalScroll():
                    yield Static(id="tests-code")
                with TabPane("Diff", id="diff"), VerticalScroll():
                    yield Static(id="diff-code")
                with TabPane("Output", id="output"), VerticalScroll():
                    yield Static(id="output-text")
        yield Static(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = self.config.run_id
        await self.reload()
        self.say(
            f"{len(self.items)} pending review(s) of run {self.config.run_id}: ↑/↓ choose; "
            "m t d o show the module, tests, diff, failing output; e at a result edits the file shown"
        )
        if await runs.unfinished_papers(self.config):
            self.say("papers a stopped process left unfinished: continuing them")
            self.busy = True
            self.run_worker(self._continue(), group="run")

    # ---- state ---------------------------------------------------------------------------------
    async def reload(self) -> None:
        self.items = await reviews.pending(self.config)
        self.sent = {iid: a for iid, a in self.sent.items() if any(i.interrupt_id == iid for i in self.items)}
        self.refresh_list()

    def open_items(self) -> list[PendingReview]:
        return [i for i in self.items if i.interrupt_id not in self.sent]

    def current(self) -> PendingReview | None:
        return next((i for i in self.items if i.interrupt_id == self._current), None)

    def refresh_list(self) -> None:
        ol = self.query_one("#items", OptionList)
        keep = self._current
        ol.clear_options()
        ol.add_options([Option(self._row(i), id=i.interrupt_id) for i in self.items])
        ids = [i.interrupt_id for i in self.items]
        if keep not in ids:
            keep = next((i.interrupt_id for i in self.open_items()), ids[0] if ids else None)
        if keep is not None:
            ol.highlighted = ids.index(keep)
        ol.focus()
        self.show(keep)
        n_open = len(self.open_items())
        self.title = f"lit2code review — {n_open} pending" + (f", {len(self.sent)} sent" if self.sent else "")

    def _row(self, item: PendingReview) -> Text:
        req, plan = item.request, item.request.plan
        text = Text()
        sent = self.sent.get(item.interrupt_id)
        text.append("✓ " if sent else "• ", style="green" if sent else "bold")
        text.append(f"{item.stage:<6} ", style="cyan" if item.stage == "plan" else "magenta")
        text.append(f"{_cut(plan.method_name, 21)}\n  {plan.family}")
        v = req.validation
        if v is not None:
            text.append(f"  {v.tests.passed}✓ {v.tests.failed + v.tests.errors}✗", style="green" if v.ok else "red")
        if sent:
            text.append(f"\n  {sent}: sent", style="green")
        text.append(f"\n  {_cut(req.title, 29)}", style="dim")
        return text

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id != self._current:
            self.show(event.option.id)

    def say(self, message: str, error: bool = False) -> None:
        self.messages.append(message)
        self.query_one("#status", Static).update(Text(message, style="bold red" if error else ""))

    # ---- the item on screen --------------------------------------------------------------------
    def show(self, interrupt_id: str | None) -> None:
        self._current = interrupt_id
        item = self.current()
        paper, plan_w, val, abstract = (
            self.query_one(f"#{n}", Static) for n in ("paper", "plan", "validation", "abstract")
        )
        if item is None:
            paper.update(Text("No pending reviews. Press q to quit.", style="bold"))
            for w in (plan_w, val, abstract):
                w.update("")
            for n in ("module-code", "tests-code", "diff-code", "output-text"):
                self.query_one(f"#{n}", Static).update("")
            return
        paper.update(self._paper(item))
        abstract.update(self._abstract(item))
        plan_w.update(self._plan(item))
        val.update(self._validation(item))
        files = reviews.code(item)
        mod = item.request.plan.module_name
        preview = " (rendered from the plan; not validated yet)" if item.stage == "plan" else ""
        for target, name in (("module-code", f"{mod}.py"), ("tests-code", f"test_{mod}.py")):
            src = files.files.get(name) if files else None
            body: RenderableType = (
                Group(Text(f"{name}{preview}", style="bold"), Syntax(src, "python", theme=THEME, line_numbers=True))
                if src is not None
                else Text("the plan does not render; edit it or reject it", style="red")
            )
            self.query_one(f"#{target}", Static).update(body)
        diff = reviews.diff(item)
        self.query_one("#diff-code", Static).update(
            Syntax(diff, "diff", theme=THEME) if diff else Text("no previous attempt to compare with", style="dim")
        )
        v = item.request.validation
        out: RenderableType = Text("not validated yet (a plan review)", style="dim")
        if v is not None:
            out = Syntax(v.error, "pytb", theme=THEME) if v.error else Text("all tests passed", style="green")
        self.query_one("#output-text", Static).update(out)

    def _paper(self, item: PendingReview) -> RenderableType:
        req = item.request
        head = Text(req.title, style="bold")
        head.append(f"\n{req.paper_id}" + (f"  {req.url}" if req.url else ""), style="dim")
        head.append(f"\n{item.stage} review", style="bold cyan" if item.stage == "plan" else "bold magenta")
        sent = self.sent.get(item.interrupt_id)
        if sent:
            head.append(f"  — answered: {sent}, the run is taking it", style="green")
        return head

    def _abstract(self, item: PendingReview) -> RenderableType:
        req = item.request
        parts: list[RenderableType] = [Text("\nAbstract", style="bold underline")]
        if req.abstract:
            parts.append(Text(req.abstract, style="italic"))
        if req.reason:
            parts.append(Text(f"\ntriage: {req.reason}", style="dim"))
        return Group(*parts)

    def _plan(self, item: PendingReview) -> RenderableType:
        plan = item.request.plan
        head = Text("\nPlan  ", style="bold underline")
        head.append(f"{plan.family} · {plan.method_name} · {plan.module_name}.{plan.class_name}", style="bold")
        head.append(f"\nplanner {plan.planner}, confidence {plan.confidence:.2f}")
        if plan.edited_by:
            head.append(f", edited by {plan.edited_by}", style="yellow")
        params = Table("parameter", "value", "evidence", box=None, padding=(0, 1), expand=True)
        for name, value in plan.hyperparameters.items():
            where = plan.inferred.get(name, "")
            params.add_row(name, str(value), Text(where, style="green" if where.startswith("abstract") else "dim"))
        parts: list[RenderableType] = [head, params]
        opts = Text("options: ", style="bold")
        opts.append(", ".join(plan.options) or "none")
        if plan.inferred.get("options"):
            opts.append(f"  ({plan.inferred['options']})", style="dim")
        parts.append(opts)
        if plan.review_notes:
            notes = Text("feedback:", style="bold")
            for n in plan.review_notes:
                notes.append(f"\n  {n}", style="green" if n.startswith("applied") else "yellow")
            parts.append(notes)
        if plan.not_implemented:
            ni = Text("not implemented:", style="bold")
            for n in plan.not_implemented:
                ni.append(f"\n  - {n}")
            parts.append(ni)
        if plan.tests:
            parts.append(Text("tests: " + ", ".join(t.name for t in plan.tests), style="dim"))
        return Group(*parts)

    def _validation(self, item: PendingReview) -> RenderableType:
        v = item.request.validation
        if v is None:
            return Text("")
        t = v.tests
        text = Text("\nValidation  ", style="bold underline")
        text.append("passed" if v.ok else "FAILED", style="bold green" if v.ok else "bold red")
        text.append(
            f"\n{t.passed} passed, {t.failed} failed, {t.errors} errors, {t.skipped} skipped"
            f"\n{v.backend} backend, {v.device}, {v.duration_s:.1f}s, {v.mode} mode, attempt {v.attempt}"
            + (f", {v.stage} checks" if v.stage == "static" else "")
        )
        if v.mode_note:
            text.append(f"\n{v.mode_note}", style="dim")
        if v.error:
            text.append("\nthe failing output is in the Output tab (o)", style="red")
        if item.request.previous is not None:
            text.append("\na previous attempt exists: its diff is in the Diff tab (d)", style="yellow")
        return text

    # ---- actions -------------------------------------------------------------------------------
    def _target(self) -> PendingReview | None:
        item = self.current()
        if item is None:
            self.say("no pending review selected")
            return None
        if item.interrupt_id in self.sent:
            self.say(f"{item.paper_id}: answered already ({self.sent[item.interrupt_id]}); the run is taking it")
            return None
        return item

    def submit(self, item: PendingReview, answer: ReviewAnswer) -> bool:
        """Check the answer against its item and send it; the run takes it as soon as it can."""
        answer = answer.model_copy(update={"interrupt_id": item.interrupt_id, "stage": item.stage})
        try:
            reviews.check_answer(item, answer)
        except ReviewError as exc:
            self.say(str(exc), error=True)
            return False
        self.sent[item.interrupt_id] = answer.action
        self.queue[item.paper_id] = answer
        self.summary.answered[item.paper_id] = answer.action
        self.say(f"{item.paper_id}: {answer.action} sent")
        self._next_open()
        if not self.busy:
            self.busy = True
            self.run_worker(self._drain(), group="run")
        return True

    def _next_open(self) -> None:
        ids = [i.interrupt_id for i in self.items]
        start = ids.index(self._current) if self._current in ids else -1
        later = [i for i in self.items[start + 1 :] + self.items[: start + 1] if i.interrupt_id not in self.sent]
        self._current = later[0].interrupt_id if later else self._current
        self.refresh_list()

    async def _drain(self) -> None:
        """Give the run the answers sent so far; repeat while more arrive; then show what is pending."""
        self.busy = True
        try:
            while self.queue:
                batch, self.queue = self.queue, {}
                stages: dict[str, str] = {}

                def progress(event: dict[str, Any], stages: dict[str, str] = stages, n: int = len(batch)) -> None:
                    if event.get("paper_id") and event.get("stage"):
                        stages[event["paper_id"]] = event["stage"]
                        doing = ", ".join(f"{pid[:24]} {st}" for pid, st in stages.items() if st != "done")
                        self.say(f"the run is going on with {n} answer(s): {doing or 'finishing'}")

                try:
                    rep, _ = await reviews.answer(self.config, batch, on_event=progress, who=self.who)
                    self.summary.report = rep
                except Exception as exc:  # ReviewError: e.g. answered meanwhile from another front end
                    why = str(exc) if isinstance(exc, ReviewError) else f"the run stopped: {type(exc).__name__}: {exc}"
                    self.summary.errors.append(why)
                    for pid, ans in batch.items():
                        self.summary.answered.pop(pid, None)
                        self.sent.pop(ans.interrupt_id or "", None)
                    self.say(why, error=True)
                await self.reload()
            n = len(self.open_items())
            if not self.summary.errors or self.messages[-1] != self.summary.errors[-1]:
                self.say(f"the run took the answers; {n} review(s) pending" if n else "no reviews pending")
        finally:
            self.busy = False
        if self._quitting:
            self._leave()

    async def _continue(self) -> None:
        try:
            rep, _ = await runs.execute(self.config)
            self.summary.report = rep
            await self.reload()
            self.say(f"continued; {len(self.open_items())} review(s) pending")
        except Exception as exc:
            self.say(f"the run stopped: {type(exc).__name__}: {exc}", error=True)
        finally:
            self.busy = False
        if self.queue:
            self.busy = True
            await self._drain()
        elif self._quitting:
            self._leave()

    def action_approve(self) -> None:
        if item := self._target():
            self.submit(item, ReviewAnswer(action="approve"))

    def action_reject(self) -> None:
        item = self._target()
        if item is None:
            return

        def done(reason: str | None) -> None:
            if reason is None:
                self.say("reject cancelled")
                return
            why = reason.strip() or f"{item.stage} rejected by reviewer"
            self.submit(item, ReviewAnswer(action="reject", feedback=why))

        self.push_screen(
            TextPrompt(f"Reject the {item.stage} of {item.request.plan.method_name}", "the reason (Enter sends it)"),
            done,
        )

    def action_feedback(self) -> None:
        item = self._target()
        if item is None:
            return

        def done(text: str | None) -> None:
            if not (text or "").strip():
                self.say("feedback cancelled")
                return
            self.submit(item, ReviewAnswer(action="feedback", feedback=text))

        self.push_screen(
            TextPrompt(
                f"Feedback on the {item.stage} of {item.request.plan.method_name}: the planner plans again with it",
                "offline planner: rank=16, option NAME on|off, name NAME, family ID (';' between them)",
                "rank=16; option rank_gate on",
            ),
            done,
        )

    def action_skip(self) -> None:
        if item := self.current():
            self.say(f"{item.paper_id}: skipped; it stays pending")
        self._next_open()

    def action_approve_passing(self) -> None:
        passing = [i for i in self.open_items() if i.passing]
        if not passing:
            self.say("no passing result is pending")
            return
        for item in passing:
            self.submit(item, ReviewAnswer(action="approve"))

    def action_move(self, step: int) -> None:
        ol = self.query_one("#items", OptionList)
        if ol.option_count:
            ol.highlighted = max(0, min(ol.option_count - 1, (ol.highlighted or 0) + step))
            ol.focus()

    def action_tab(self, name: str) -> None:
        self.query_one("#code", TabbedContent).active = name

    def action_edit(self) -> None:
        item = self._target()
        if item is None:
            return
        if item.stage == "plan":
            self._edit_plan(item, reviews.plan_yaml(item))
            return
        mod = item.request.plan.module_name
        tab = self.query_one("#code", TabbedContent).active
        name = f"test_{mod}.py" if tab == "tests" else f"{mod}.py"
        assert item.request.rendered is not None
        text = self.run_editor(item.request.rendered.files[name], suffix=f"-{name}")
        if text is None:
            return
        answer = reviews.edit_file(item, name, text)
        if answer is None:
            self.say(f"{name} unchanged: nothing to validate")
            return
        if self.submit(item, answer):
            self.say(f"{item.paper_id}: {name} edited; it is validated in the sandbox before it can be approved")

    def _edit_plan(self, item: PendingReview, text: str) -> None:
        edited = self.run_editor(text, suffix=".yaml")
        if edited is None:
            return
        try:
            answer = reviews.edit_plan(item, _without_errors(edited))
        except PlanEditError as exc:
            errors = exc.errors
            self.say(f"{item.paper_id}: the edited plan is not valid ({len(errors)} problem(s))", error=True)

            def again(retry: bool | None) -> None:
                if retry:
                    self._edit_plan(item, _with_errors(edited, errors))
                else:
                    self.say(f"{item.paper_id}: edit abandoned; the plan is as it was")

            self.push_screen(EditErrors(item.paper_id, errors), again)
            return
        if answer is None:
            self.say(f"{item.paper_id}: plan unchanged; nothing applied")
            return
        self.submit(item, answer)

    def run_editor(self, text: str, suffix: str) -> str | None:
        """`text` edited in $VISUAL / $EDITOR (vi without either), the app suspended meanwhile; None when
        the editor failed (the edit is abandoned)."""
        command = self.editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.TemporaryDirectory(prefix="lit2code-edit-") as tmp:
            path = Path(tmp) / f"edit{suffix}"
            path.write_text(text)
            argv = [*shlex.split(command), str(path)]
            try:
                try:
                    with self.suspend():
                        code = subprocess.run(argv, check=False).returncode
                except SuspendNotSupported:  # headless (tests): the editor needs no terminal
                    code = subprocess.run(argv, check=False, stdin=subprocess.DEVNULL).returncode
            except OSError as exc:
                self.say(f"cannot start the editor {command!r}: {exc}; set $EDITOR", error=True)
                return None
            if code != 0:
                self.say(f"the editor exited {code}; edit abandoned", error=True)
                return None
            return path.read_text()

    def action_quit_review(self) -> None:
        if self.busy and not self._quitting:
            self._quitting = True
            self.say(
                "quitting once the run has taken the answers sent; q again quits now "
                "(what the run has not finished goes on at the next `lit2code review` or `lit2code resume`)"
            )
            return
        self._leave()

    def _leave(self) -> None:
        self.summary.pending = len(self.items) - len(self.sent)
        self.exit(self.summary)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


ERROR_MARK = "# ERROR: "


def _without_errors(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(ERROR_MARK))


def _with_errors(text: str, errors: list[str]) -> str:
    """The edited YAML again, headed by what is wrong with it."""
    return "".join(f"{ERROR_MARK}{e}\n" for e in errors) + _without_errors(text)


def run_app(config: RunConfig, who: str | None = None) -> Summary:
    """Run the app in this terminal until the reviewer quits."""
    app = ReviewApp(config, who=who)
    with contextlib.suppress(KeyboardInterrupt):
        result = app.run()
        if result is not None:
            return result
    app.summary.pending = len(app.items) - len(app.sent)
    return app.summary
