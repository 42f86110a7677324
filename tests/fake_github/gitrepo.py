"""Bare git repositories of the fake GitHub, read and written with the real `git` (plumbing only, no work tree)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40
_SAFE_REF = re.compile(r"^[A-Za-z0-9._/@{}^~-]+$")

# Rejects pushes that touch .github/workflows/ unless the pusher's token may write workflows, with GitHub's messages.
PRE_RECEIVE_HOOK = r"""#!/bin/sh
# Installed by the fake GitHub: GitHub refuses workflow changes from tokens without the workflows permission.
[ "${FAKE_GITHUB_WORKFLOWS:-write}" = "write" ] && exit 0
status=0
while read old new ref; do
  [ "$new" = "0000000000000000000000000000000000000000" ] && continue
  if [ "$old" = "0000000000000000000000000000000000000000" ]; then
    changed=$(git log --format= --name-only "$new" --not --all -- .github/workflows | head -n 1)
  else
    changed=$(git log --format= --name-only "$old..$new" -- .github/workflows | head -n 1)
  fi
  if [ -n "$changed" ]; then
    actor="${FAKE_GITHUB_ACTOR_KIND:-a GitHub App}"
    echo "refusing to allow $actor to create or update workflow \`$changed\` without \`workflows\` permission" >&2
    status=1
  fi
done
exit $status
"""


class GitError(RuntimeError):
    """A git command failed."""


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str  # blob | tree | commit (submodule)
    sha: str
    size: int | None
    path: str


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    env.setdefault("HOME", tempfile.gettempdir())
    if extra:
        env.update(extra)
    return env


def git(
    repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True
) -> bytes:
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=input,
        capture_output=True,
        env=_env(env),
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise GitError(
            f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


def init_bare(repo: Path, default_branch: str = "main") -> None:
    repo.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--bare", "--quiet", f"--initial-branch={default_branch}", str(repo)],
        check=True,
        capture_output=True,
        env=_env(),
    )
    git(repo, "config", "http.receivepack", "true")
    git(repo, "config", "receive.denyDeleteCurrent", "refuse")
    hook = repo / "hooks" / "pre-receive"
    hook.write_text(PRE_RECEIVE_HOOK)
    hook.chmod(0o755)


def _check_ref(ref: str) -> str:
    if not ref or ref.startswith("-") or not _SAFE_REF.match(ref) or ".." in ref:
        raise GitError(f"unsafe ref {ref!r}")
    return ref


def resolve(repo: Path, ref: str) -> str | None:
    """The commit sha a branch, tag, full ref or (abbreviated) sha names, or None."""
    try:
        _check_ref(ref)
    except GitError:
        return None
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    if re.fullmatch(r"[0-9a-f]{4,40}", ref):
        candidates.append(ref)
    for cand in candidates:
        out = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{cand}^{{commit}}", check=False)
        if out.strip():
            return out.decode().strip()
    return None


def branches(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/")
    result: dict[str, str] = {}
    for line in out.decode().splitlines():
        name, sha = line.rsplit(" ", 1)
        result[name] = sha
    return result


def refs(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    result: dict[str, str] = {}
    for line in out.decode().splitlines():
        name, sha = line.rsplit(" ", 1)
        result[name] = sha
    return result


def ls_tree(repo: Path, commit: str, path: str = "") -> list[TreeEntry]:
    """Entries of the directory `path` (or the single entry `path` when it is a file) at `commit`."""
    path = path.strip("/")
    spec = [f"{path}/"] if path and is_dir(repo, commit, path) else ([path] if path else [])
    out = git(repo, "ls-tree", "-l", "-z", commit, "--", *spec)
    entries = []
    for rec in out.decode("utf-8", errors="surrogateescape").split("\0"):
        if not rec:
            continue
        meta, name = rec.split("\t", 1)
        mode, typ, sha, size = meta.split()
        entries.append(TreeEntry(mode, typ, sha, None if size == "-" else int(size), name))
    return entries


def entry(repo: Path, commit: str, path: str) -> TreeEntry | None:
    path = path.strip("/")
    if not path:
        return None
    out = git(repo, "ls-tree", "-l", "-z", commit, "--", path)
    for rec in out.decode("utf-8", errors="surrogateescape").split("\0"):
        if rec:
            meta, name = rec.split("\t", 1)
            mode, typ, sha, size = meta.split()
            if name == path:
                return TreeEntry(mode, typ, sha, None if size == "-" else int(size), name)
    return None


def is_dir(repo: Path, commit: str, path: str) -> bool:
    e = entry(repo, commit, path)
    return e is not None and e.type == "tree"


def read_blob(repo: Path, sha: str) -> bytes:
    return git(repo, "cat-file", "blob", sha)


def read_file(repo: Path, ref: str, path: str) -> bytes | None:
    commit = resolve(repo, ref)
    if commit is None:
        return None
    e = entry(repo, commit, path)
    if e is None or e.type != "blob":
        return None
    return read_blob(repo, e.sha)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: list[str]
    author_name: str
    author_email: str
    author_date: str  # ISO 8601 with offset
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def commit_info(repo: Path, sha: str) -> CommitInfo:
    fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
    out = git(repo, "show", "-s", f"--format={fmt}", sha).decode("utf-8", errors="replace")
    parts = out.split("\0")
    return CommitInfo(
        sha=parts[0],
        tree=parts[1],
        parents=parts[2].split() if parts[2] else [],
        author_name=parts[3],
        author_email=parts[4],
        author_date=parts[5],
        committer_name=parts[6],
        committer_email=parts[7],
        committer_date=parts[8],
        message=parts[9].rstrip("\n"),
    )


def log(repo: Path, ref: str, limit: int = 100, exclude: str | None = None) -> list[str]:
    """Commit shas reachable from `ref` (newest first), not reachable from `exclude`."""
    args = ["rev-list", f"--max-count={limit}", ref]
    if exclude:
        args += ["--not", exclude]
    return git(repo, *args).decode().split()


def ahead_behind(repo: Path, base: str, head: str) -> tuple[int, int]:
    """(commits in head not in base, commits in base not in head)."""
    out = git(repo, "rev-list", "--left-right", "--count", f"{base}...{head}").decode().split()
    behind, ahead = int(out[0]), int(out[1])
    return ahead, behind


def changed_files(repo: Path, sha: str) -> dict[str, list[str]]:
    """added / modified / removed paths of one commit against its first parent (no rename detection, like GitHub)."""
    out = git(repo, "diff-tree", "-r", "--root", "--no-renames", "--no-commit-id", "--name-status", "-z", sha)
    fields = out.decode("utf-8", errors="surrogateescape").split("\0")
    result: dict[str, list[str]] = {"added": [], "modified": [], "removed": []}
    key = {"A": "added", "M": "modified", "D": "removed", "T": "modified"}
    i = 0
    while i + 1 < len(fields):
        status, path = fields[i], fields[i + 1]
        i += 2
        if status:
            result[key.get(status[0], "modified")].append(path)
    return result


def commit_files(
    repo: Path,
    branch: str,
    files: dict[str, str | bytes | None],
    message: str,
    *,
    author_name: str = "Fake User",
    author_email: str = "user@users.noreply.example",
    parent: str | None = None,
    executable: frozenset[str] = frozenset(),
) -> str:
    """Commit `files` (path -> content; None deletes) on top of `branch` (or `parent`) and move the branch there."""
    _check_ref(branch)
    old = resolve(repo, f"refs/heads/{branch}")
    base = parent if parent is not None else old
    with tempfile.TemporaryDirectory(prefix="fakegh-index-") as tmp:
        index_env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if base:
            git(repo, "read-tree", base, env=index_env)
        lines = []
        for path, content in files.items():
            path = path.strip("/")
            if content is None:
                lines.append(f"0 {ZERO_SHA}\t{path}\n")
                continue
            data = content.encode() if isinstance(content, str) else content
            blob = git(repo, "hash-object", "-w", "--stdin", input=data).decode().strip()
            mode = "100755" if path in executable else "100644"
            lines.append(f"{mode} {blob}\t{path}\n")
        git(repo, "update-index", "--index-info", input="".join(lines).encode(), env=index_env)
        tree = git(repo, "write-tree", env=index_env).decode().strip()
    who = {
        "GIT_AUTHOR_NAME": author_name,
        "GIT_AUTHOR_EMAIL": author_email,
        "GIT_COMMITTER_NAME": author_name,
        "GIT_COMMITTER_EMAIL": author_email,
    }
    args = ["commit-tree", tree, "-m", message]
    if base:
        args[2:2] = ["-p", base]
    sha = git(repo, *args, env=who).decode().strip()
    git(repo, "update-ref", f"refs/heads/{branch}", sha, old or ZERO_SHA)
    return sha


def set_ref(repo: Path, ref: str, sha: str | None) -> None:
    _check_ref(ref)
    if sha is None:
        git(repo, "update-ref", "-d", ref)
    else:
        git(repo, "update-ref", ref, sha)


def symbolic_head(repo: Path, branch: str) -> None:
    git(repo, "symbolic-ref", "HEAD", f"refs/heads/{_check_ref(branch)}")
