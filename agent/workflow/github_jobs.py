"""Running a GitHub job: a pushed digest or a `/lit2code` command becomes a run like any other, whose
commits land on a deterministic branch of the target repository, with a draft pull request, a check run
on the triggering commit and one status comment edited in place.

Everything a job makes on GitHub (comment, check run, pull request) is recorded in the queue as soon as it
exists, and its run is named after the job, so a job taken up again after a crash updates what it made
and resumes its run from the checkpoint: nothing posted twice, nothing committed twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import digest
from agent.github import commands, config, gitops, publish
from agent.github.client import GitHubClient, GitHubError, Repo, redact
from agent.github.events import MARK
from agent.models import Report
from agent.repo import GeneratedRepo, RepoError
from agent.sandbox import SandboxError
from agent.settings import Settings
from agent.workflow import runs
from agent.workflow.jobs import Job, JobQueue

log = logging.getLogger("lit2code.jobs")
WRITERS = {"admin", "maintain", "write"}
PROGRESS_EVERY_S = 30.0
_check_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


class JobCancelled(Exception):
    pass


class JobFailed(Exception):
    """A clear reason the job cannot go on (told to the user in the status comment and check run)."""


@dataclass
class Context:
    job: Job
    queue: JobQueue
    env: Settings
    gh: GitHubClient
    repo: Repo  # where the event happened
    outcome: dict[str, Any] = field(default_factory=dict)

    def save(self, **items: Any) -> None:
        self.job.state.update(items)
        self.queue.save_state(self.job.id, **items)

    def link(self, run_id: str) -> str | None:
        return f"{self.env.public_url.rstrip('/')}/runs/{run_id}" if self.env.public_url else None


def _lock_for(job_id: int) -> threading.Lock:
    with _locks_guard:
        return _check_locks.setdefault(job_id, threading.Lock())


# -- announcing (right after the job is queued) ----------------------------------------------------------
def announce(job: Job, queue: JobQueue, env: Settings) -> None:
    """Make the job visible at once: a queued check run on a pushed commit, a reaction on a command."""
    try:
        ctx = Context(job, queue, env, GitHubClient(env, job.payload.get("installation")), Repo.parse(job.repo))
        if job.kind == "push":
            _check(ctx)
        elif job.kind == "command" and not job.state.get("reacted"):
            ctx.gh.react(ctx.repo, int(job.payload["comment_id"]))
            ctx.save(reacted=True)
    except GitHubError as exc:
        log.warning("job %s: announcing failed: %s", job.id, exc)


def _check(ctx: Context) -> int | None:
    """The job's check run on its commit, created once (queued)."""
    with _lock_for(ctx.job.id):
        if "check_id" not in ctx.job.state:
            ctx.job.state.update(ctx.queue.get(ctx.job.id).state)  # another thread may have made it
        if "check_id" not in ctx.job.state:
            check_id = ctx.gh.check_start(ctx.repo, ctx.job.payload["sha"], f"job-{ctx.job.id}", None)
            ctx.save(check_id=check_id)
        return ctx.job.state["check_id"]


def _check_update(ctx: Context, status: str, conclusion: str | None = None, title: str = "", summary: str = "") -> None:
    if ctx.job.kind != "push":
        return
    ctx.gh.check_update(ctx.repo, ctx.job.payload["sha"], _check(ctx), status, conclusion, title, summary)


def _status(ctx: Context, number: int | None, repo: Repo, text: str, on_pull: bool = False) -> None:
    """The job's one status comment, created once, then edited in place; `on_pull`: the pull request's one
    status comment, which every job on its branch edits."""
    if number is None:
        return
    if on_pull:
        comment_id = ctx.queue.status_comment(str(repo), number)
        made = ctx.gh.comment(repo, number, text, comment_id)
        if made != comment_id:
            ctx.queue.save_status_comment(str(repo), number, made)
        return
    key = f"comment:{repo}#{number}"
    comment_id = ctx.job.state.get(key)
    ctx.save(**{key: ctx.gh.comment(repo, number, text, comment_id)})


# -- the job -------------------------------------------------------------------------------------------
def run_job(job: Job, queue: JobQueue, env: Settings) -> dict[str, Any]:
    """Do the job; returns its result (saved by the caller). JobCancelled when it was cancelled."""
    ctx = Context(job, queue, env, GitHubClient(env, job.payload.get("installation")), Repo.parse(job.repo))
    if job.kind == "push":
        return _push(ctx)
    return _command(ctx)


def _push(ctx: Context) -> dict[str, Any]:
    payload = ctx.job.payload
    try:
        conf = config.parse(_text(ctx.gh.file(ctx.repo, config.FILE, payload["sha"])))
    except config.ConfigError as exc:
        _check_update(ctx, "completed", "failure", "lit2code: bad .lit2code.toml", str(exc))
        return {"error": str(exc)}
    paths = [p for p in payload["files"] if conf.is_digest(p)]
    if not paths:
        _check_update(
            ctx, "completed", "neutral", "lit2code: no digest changed", "No file matches " + ", ".join(conf.digests)
        )
        return {"digests": []}
    _check_update(ctx, "in_progress", title=f"lit2code: {len(paths)} digest(s)")
    results, summaries, conclusion = [], [], "success"
    for index, path in enumerate(paths):
        try:
            done = _digest(ctx, conf, path, payload["sha"], index, options=conf.run, where=None)
        except JobFailed as exc:
            done = {"path": path, "error": str(exc)}
            conclusion = "failure"
        results.append(done)
        summaries.append(_summary(path, done))
        if done.get("failed"):
            conclusion = "neutral" if conclusion == "success" else conclusion
    _check_update(
        ctx, "completed", conclusion, f"lit2code: {'; '.join(_title(r) for r in results)}", "\n\n".join(summaries)
    )
    return {"digests": results}


def _title(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{result['path']}: failed"
    return f"{result['path']}: {result['summary']}"


def _summary(path: str, result: dict[str, Any]) -> str:
    if "error" in result:
        return f"### `{path}`\n\n{result['error']}"
    pr = f" in pull request #{result['pr']}" if result.get("pr") else ""
    return f"### `{path}`{pr}\n\n**{result['summary']}**\n\n{result['table']}"


def _text(found: tuple[str, str] | None) -> str | None:
    return found[0] if found else None


def _command(ctx: Context) -> dict[str, Any]:
    payload = ctx.job.payload
    number, author = int(payload["number"]), str(payload["author"])
    try:
        cmd = commands.parse(payload["line"])
    except commands.CommandError as exc:
        _status(ctx, number, ctx.repo, publish.status_comment(f"@{author}: {exc}"))
        return {"error": str(exc)}
    permission = ctx.gh.permission(ctx.repo, author)
    if permission not in WRITERS:
        text = (
            f"@{author}: lit2code takes commands only from users with write permission on {ctx.repo} "
            f"(yours: {permission})."
        )
        _status(ctx, number, ctx.repo, publish.status_comment(text))
        return {"refused": author, "permission": permission}
    if not ctx.job.state.get("reacted"):
        ctx.gh.react(ctx.repo, int(payload["comment_id"]))
        ctx.save(reacted=True)
    if cmd.kind == "status":
        _status(ctx, number, ctx.repo, publish.status_comment("status", _jobs_table(ctx)))
        return {"status": True}
    if cmd.kind == "cancel":
        ids = [i for i in ctx.queue.cancel(ctx.job.repo, where=payload["where"]) if i != ctx.job.id]
        _status(ctx, number, ctx.repo, publish.status_comment(f"cancelled job(s) {', '.join(map(str, ids)) or 'none'}"))
        return {"cancelled": ids}
    if cmd.kind == "run":
        assert cmd.path is not None
        try:
            conf = config.parse(_text(ctx.gh.file(ctx.repo, config.FILE, payload["default_branch"])))
            options = config.run_options(conf, cmd.options)
        except config.ConfigError as exc:
            _status(ctx, number, ctx.repo, publish.status_comment(f"@{author}: {exc}"))
            return {"error": str(exc)}
        sha = ctx.gh.head(ctx.repo, payload["default_branch"])
        try:
            return _digest(ctx, conf, cmd.path, sha, 0, options=options, where=number)
        except JobFailed as exc:
            _status(ctx, number, ctx.repo, publish.status_comment(f"@{author}: {exc}"))
            return {"error": str(exc)}
    return _on_pull(ctx, cmd, number, author)


def _jobs_table(ctx: Context) -> str:
    lines = ["| job | what | status | started | finished |", "| --- | --- | --- | --- | --- |"]
    for j in ctx.queue.list(repo=ctx.job.repo, limit=10):
        what = j.payload.get("line") or f"push {j.payload.get('sha', '')[:8]}"
        lines.append(f"| {j.id} | `{what[:60]}` | {j.status} | {j.started_at or ''} | {j.finished_at or ''} |")
    return "\n".join(lines)


# -- a digest into its branch ----------------------------------------------------------------------------
def _digest(
    ctx: Context,
    conf: config.RepoConfig,
    path: str,
    sha: str,
    index: int,
    options: dict[str, Any],
    where: int | None,
) -> dict[str, Any]:
    found = ctx.gh.file(ctx.repo, path, sha)
    if found is None:
        raise JobFailed(f"there is no file `{path}` in {ctx.repo} at {sha[:8]}")
    text, blob = found
    target = Repo.parse(conf.target) if conf.target else ctx.repo
    branch = gitops.branch_name(path, blob)
    state = {
        "digest_repo": str(ctx.repo),
        "path": path,
        "sha": sha,
        "blob": blob,
        "options": options,
        "base": conf.base,
    }
    work = ctx.env.runs_dir / "jobs" / f"job-{ctx.job.id}" / str(index)
    digest_file = work / "digest" / Path(path).name
    digest_file.parent.mkdir(parents=True, exist_ok=True)
    digest_file.write_text(text)
    try:
        digest.parse_file(digest_file)
    except digest.DigestError as exc:
        raise JobFailed(
            f"`{path}` is not a digest lit2code can read: {str(exc).replace(str(digest_file), path)}"
        ) from exc
    return _run_on_branch(
        ctx, target, branch, state, work, [digest_file], where=where, run_id=f"job-{ctx.job.id}-{index}"
    )


def _run_on_branch(
    ctx: Context,
    target: Repo,
    branch: str,
    state: dict[str, Any],
    work: Path,
    inputs: list[Path],
    where: int | None,
    run_id: str,
    only: list[str] | None = None,
    feedback: dict[str, str] | None = None,
    drop: tuple[str, dict[str, str] | None] | None = None,
) -> dict[str, Any]:
    """Check out the branch, (optionally drop a paper), run lit2code on it, push, and report back."""
    default_branch, clone_url = ctx.gh.repo_info(target)
    base = state.get("base") or default_branch
    clone = work / "repo"
    gitops.checkout(clone_url, ctx.gh.git_token(target), clone, branch, base)
    repo = GeneratedRepo(clone)
    repo.adopt()
    rewrite = False
    if drop is not None:
        rewrite = repo.drop_paper(drop[0], f"origin/{base}", drop[1])
    branch_state = {**ctx.queue.branch_state(str(target), branch), **state}
    number = branch_state.get("pr")
    comment_on = where if where is not None else number
    _status(
        ctx,
        comment_on,
        ctx.repo if where is not None else target,
        publish.status_comment(f"running on `{branch}`", link=ctx.link(run_id)),
        on_pull=where is None,
    )
    report = _run(
        ctx,
        run_id,
        inputs,
        clone,
        state.get("options", {}),
        only or [],
        feedback or {},
        comment_on,
        target,
        branch,
        where,
    )
    if gitops.has_news(clone, branch, base):
        # A token of its own: an installation token lives an hour, and a run can take longer.
        gitops.push(clone, ctx.gh.git_token(target), branch, rewrite=rewrite)
    rows = dict(branch_state.get("rows", {}))
    for paper in report.papers:
        rows[paper.paper_id] = publish.row_of(paper.model_dump(mode="json"), report.planner)
    if drop is not None and drop[1] is not None:
        why = f"rejected by {drop[1]['by']}: {drop[1]['reason']}"
        blank = {"title": drop[0], "family": "", "tests": "", "planner": ""}
        rows[drop[0]] = {**rows.get(drop[0], blank), "status": "rejected", "reason": why, "commit": ""}
    source = f"{state['digest_repo']}@{state['sha'][:8]}"
    body = publish.pr_body(state["path"], source, rows)
    if number is None:
        number = ctx.gh.find_pull(target, branch)
    if number is None and gitops.commits_ahead(clone, base) > 0:
        number = ctx.gh.open_pull(target, branch, base, f"lit2code: {state['path']} ({state['blob'][:8]})", body)
    elif number is not None:
        ctx.gh.update_pull(target, number, body)
    ctx.queue.save_branch_state(str(target), branch, {**branch_state, "rows": rows, "pr": number})
    summary = publish.summary_line(rows)
    where_pr = f"pull request {target}#{number}" if number else "no pull request (nothing was committed)"
    final = publish.status_comment(f"done: {summary}; {where_pr}", publish.table(rows), link=ctx.link(run_id))
    _status(
        ctx, where if where is not None else number, ctx.repo if where is not None else target, final, where is None
    )
    return {
        "path": state["path"],
        "branch": branch,
        "pr": number,
        "run_id": run_id,
        "summary": summary,
        "table": publish.table(rows),
        "failed": report.totals.failed,
    }


def _run(
    ctx: Context,
    run_id: str,
    inputs: list[Path],
    clone: Path,
    options: dict[str, Any],
    only: list[str],
    feedback: dict[str, str],
    comment_on: int | None,
    target: Repo,
    branch: str,
    where: int | None,
) -> Report:
    """The lit2code run of this job (resumed from its checkpoint when the job is taken up again)."""
    try:
        config_ = runs.load_config(run_id)
    except runs.RunError:
        config_ = runs.RunConfig(
            run_id=run_id,
            inputs=[str(p) for p in inputs],
            repo=str(clone),
            only=only,
            feedback=feedback,
            **options,
        )
        try:
            config_, _ = runs.create(config_)
        except (runs.RunError, SandboxError) as exc:
            raise JobFailed(str(exc)) from exc
    last = [time.monotonic()]
    done = [0]

    def on_event(event: dict[str, Any]) -> None:
        if ctx.queue.cancel_requested(ctx.job.id):
            raise JobCancelled(f"job {ctx.job.id} was cancelled")
        if event.get("stage") == "done":
            done[0] += 1
        if time.monotonic() - last[0] > PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            text = publish.status_comment(f"running on `{branch}`: {done[0]} paper(s) done", link=ctx.link(run_id))
            _status(ctx, comment_on, ctx.repo if where is not None else target, text, on_pull=where is None)

    try:
        report, _pending = asyncio.run(runs.execute(config_, on_event=on_event))
    except (RepoError, SandboxError, digest.DigestError) as exc:
        raise JobFailed(redact(str(exc))) from exc
    return report


# -- commands on a lit2code pull request --------------------------------------------------------------
def _on_pull(ctx: Context, cmd: commands.Command, number: int, author: str) -> dict[str, Any]:
    def say(text: str) -> dict[str, Any]:
        _status(ctx, number, ctx.repo, publish.status_comment(f"@{author}: {text}"))
        return {"error": text}

    if not ctx.job.payload.get("is_pr"):
        return say(f"`/lit2code {cmd.kind}` works on a lit2code pull request, not on an issue")
    pull = ctx.gh.pull(ctx.repo, number)
    branch = pull["head"]
    state = ctx.queue.branch_state(str(ctx.repo), branch)
    if not branch.startswith(gitops.BRANCH_PREFIX) or not state:
        return say(f"#{number} is not a pull request lit2code opened")
    assert cmd.paper_id is not None
    rows = state.get("rows", {})
    if cmd.paper_id not in rows:
        return say(f"there is no paper `{cmd.paper_id}` in this pull request (papers: {', '.join(sorted(rows))[:500]})")
    work = ctx.env.runs_dir / "jobs" / f"job-{ctx.job.id}" / "0"
    digest_repo = Repo.parse(state["digest_repo"])
    found = ctx.gh.file(digest_repo, state["path"], state["sha"])
    if found is None:
        return say(f"the digest `{state['path']}` is no longer in {digest_repo} at {state['sha'][:8]}")
    digest_file = work / "digest" / Path(state["path"]).name
    digest_file.parent.mkdir(parents=True, exist_ok=True)
    digest_file.write_text(found[0])
    run_id = f"job-{ctx.job.id}-0"
    at = datetime.now(UTC).isoformat(timespec="seconds")
    if cmd.kind == "reject":
        rejection = {"reason": cmd.text or "no reason given", "by": author, "at": at}
        return _run_on_branch(ctx, ctx.repo, branch, state, work, [digest_file], where=number, run_id=run_id,
                              only=[cmd.paper_id], drop=(cmd.paper_id, rejection))  # fmt: skip
    if cmd.kind == "feedback":
        return _run_on_branch(ctx, ctx.repo, branch, state, work, [digest_file], where=number, run_id=run_id,
                              only=[cmd.paper_id], feedback={cmd.paper_id: cmd.text},
                              drop=(cmd.paper_id, None))  # fmt: skip
    return _run_on_branch(ctx, ctx.repo, branch, state, work, [digest_file], where=number, run_id=run_id,
                          only=[cmd.paper_id])  # fmt: skip


def fail_job(job: Job, queue: JobQueue, env: Settings, error: str) -> None:
    """Tell GitHub that a job failed (its check run, its status comment), without raising."""
    try:
        ctx = Context(job, queue, env, GitHubClient(env, job.payload.get("installation")), Repo.parse(job.repo))
        if job.kind == "push":
            _check_update(ctx, "completed", "failure", "lit2code: the job failed", redact(error))
        else:
            _status(ctx, int(job.payload["number"]), ctx.repo, publish.status_comment(f"failed: {redact(error)}"))
    except Exception as exc:  # noqa: BLE001 - reporting a failure must not fail the worker
        log.warning("job %s: reporting its failure failed: %s", job.id, redact(str(exc)))


__all__ = ["JobCancelled", "MARK", "announce", "fail_job", "run_job"]
