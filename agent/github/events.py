"""Webhook events: which ones start work, read from the payload alone (no GitHub call), so the webhook can
answer within a second. What needs GitHub (the repository's config, the commenter's permission) is the
job's first step."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.github import commands

MARK = "<!-- lit2code -->"  # in every comment lit2code writes: never a command, never a trigger for itself
ZERO = "0" * 40


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class User(_Loose):
    login: str
    type: str = "User"


class Repository(_Loose):
    full_name: str
    default_branch: str = "main"


class Installation(_Loose):
    id: int


class Commit(_Loose):
    added: list[str] = Field(default_factory=list)
    modified: list[str] = Field(default_factory=list)


class PushEvent(_Loose):
    ref: str
    after: str
    repository: Repository
    commits: list[Commit] = Field(default_factory=list)
    head_commit: Commit | None = None
    sender: User | None = None
    installation: Installation | None = None


class Comment(_Loose):
    id: int
    body: str = ""
    user: User


class Issue(_Loose):
    number: int
    pull_request: dict[str, Any] | None = None


class CommentEvent(_Loose):
    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User
    installation: Installation | None = None


class Accepted(BaseModel):
    kind: Literal["push", "command"]
    key: str  # the logical event: a second delivery of it is the same job
    repo: str
    payload: dict[str, Any]
    lane: Literal["run", "quick"] = "run"  # quick: status and cancel, which never wait behind a run


class Ignored(BaseModel):
    reason: str


def accept(event: str, body: dict[str, Any], allowed: set[str]) -> Accepted | Ignored:
    """What a delivery asks of lit2code, or why it asks nothing."""
    if event == "ping":
        return Ignored(reason="pong")
    full_name = str((body.get("repository") or {}).get("full_name", ""))
    if allowed and full_name.lower() not in allowed:
        return Ignored(reason=f"repository {full_name or '(none)'} is not in lit2code's allow-list")
    try:
        if event == "push":
            return _push(PushEvent.model_validate(body))
        if event == "issue_comment":
            return _comment(CommentEvent.model_validate(body))
    except ValidationError as exc:
        return Ignored(reason=f"a {event} payload without {exc.errors()[0]['loc'][0]}: not one lit2code reads")
    return Ignored(reason=f"lit2code does not act on {event} events")


def _push(ev: PushEvent) -> Accepted | Ignored:
    if ev.ref != f"refs/heads/{ev.repository.default_branch}":
        return Ignored(reason=f"a push to {ev.ref}, not to the default branch {ev.repository.default_branch}")
    if ev.after == ZERO:
        return Ignored(reason="a branch deletion")
    changed = sorted(
        {p for c in [*ev.commits, *([ev.head_commit] if ev.head_commit else [])] for p in c.added + c.modified}
    )
    if not changed:
        return Ignored(reason="a push that adds or changes no file")
    repo = ev.repository.full_name
    return Accepted(
        kind="push",
        key=f"push:{repo}:{ev.after}",
        repo=repo,
        payload={
            "repo": repo,
            "sha": ev.after,
            "files": changed,
            "installation": ev.installation.id if ev.installation else None,
            "sender": ev.sender.login if ev.sender else None,
        },
    )


def _comment(ev: CommentEvent) -> Accepted | Ignored:
    if ev.action != "created":
        return Ignored(reason=f"a comment {ev.action}: only new comments are commands")
    if ev.sender.type == "Bot" or ev.comment.user.type == "Bot":
        return Ignored(reason=f"a comment by the bot {ev.comment.user.login}")
    if MARK in ev.comment.body:
        return Ignored(reason="lit2code's own comment")
    line = commands.find(ev.comment.body)
    if line is None:
        return Ignored(reason="a comment without a /lit2code command")
    repo = ev.repository.full_name
    verb = line.split()[1] if len(line.split()) > 1 else ""
    return Accepted(
        kind="command",
        key=f"comment:{repo}:{ev.comment.id}",
        repo=repo,
        lane="quick" if verb in ("status", "cancel") else "run",
        payload={
            "repo": repo,
            "number": ev.issue.number,
            "is_pr": ev.issue.pull_request is not None,
            "where": f"#{ev.issue.number}",
            "comment_id": ev.comment.id,
            "line": line,
            "author": ev.comment.user.login,
            "default_branch": ev.repository.default_branch,
            "installation": ev.installation.id if ev.installation else None,
        },
    )
