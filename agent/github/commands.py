"""`/lit2code ...` commands in issue and pull request comments, parsed into `Command`s.

    /lit2code run PATH [key=value ...]     run a digest of the repository (options as in .lit2code.toml's [run])
    /lit2code status                       the state of lit2code's jobs for this repository
    /lit2code cancel                       cancel queued and running jobs of this issue or pull request
    /lit2code retry PAPER_ID               process that paper again (on a lit2code pull request)
    /lit2code reject PAPER_ID [reason]     drop that paper's commit from the branch (on a lit2code pull request)
    /lit2code feedback PAPER_ID TEXT       re-plan that paper with the feedback (on a lit2code pull request)

Only the comment's first line that starts with `/lit2code` counts; anything unparsable is a `CommandError`
whose message the reply quotes.
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["run", "status", "cancel", "retry", "reject", "feedback"]
PREFIX = "/lit2code"
USAGE = (
    "`/lit2code run PATH [key=value ...]`, `/lit2code status`, `/lit2code cancel`, and on a lit2code pull "
    "request `/lit2code retry PAPER_ID`, `/lit2code reject PAPER_ID [reason]`, `/lit2code feedback PAPER_ID TEXT`"
)
PR_ONLY = {"retry", "reject", "feedback"}
_PAPER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,120}$")


class CommandError(ValueError):
    pass


class Command(BaseModel):
    kind: Kind
    path: str | None = None
    options: dict[str, str] = Field(default_factory=dict)
    paper_id: str | None = None
    text: str = ""


def find(body: str) -> str | None:
    """The command line of a comment, or None when it holds no lit2code command."""
    for line in body.splitlines():
        stripped = line.strip()
        if stripped == PREFIX or stripped.startswith(PREFIX + " "):
            return stripped
    return None


def safe_path(path: str) -> str:
    """A repository-relative path, or CommandError for absolute paths and '..'."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or "\\" in path or "\x00" in path:
        raise CommandError(f"`{path}` is not a path inside the repository (no absolute paths, no `..`)")
    return str(p)


def parse(line: str) -> Command:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise CommandError(f"cannot read the command ({exc}); use {USAGE}") from exc
    if len(words) < 2:
        raise CommandError(f"say what to do: {USAGE}")
    verb, rest = words[1], words[2:]
    if verb == "run":
        if not rest:
            raise CommandError("`/lit2code run` needs the digest's path, e.g. `/lit2code run digests/2026-12-01.txt`")
        options: dict[str, str] = {}
        for word in rest[1:]:
            key, eq, value = word.partition("=")
            if not eq or not key:
                raise CommandError(f"`{word}`: options are key=value, e.g. `planner=llm`")
            options[key.replace("-", "_")] = value
        return Command(kind="run", path=safe_path(rest[0]), options=options)
    if verb in {"status", "cancel"}:
        return Command.model_validate({"kind": verb})
    if verb in PR_ONLY:
        if not rest or not _PAPER_ID.match(rest[0]):
            raise CommandError(f"`/lit2code {verb}` needs a paper id (as in the pull request's table)")
        text = " ".join(rest[1:]).strip()
        if verb == "feedback" and not text:
            raise CommandError("`/lit2code feedback PAPER_ID TEXT` needs the feedback text")
        return Command.model_validate({"kind": verb, "paper_id": rest[0], "text": text})
    raise CommandError(f"unknown command `{verb}`; use {USAGE}")
