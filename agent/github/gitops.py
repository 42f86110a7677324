"""git over HTTPS with a short-lived token that is never written down.

The token reaches git only through the environment of the one git process that needs it
(`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_0` / `GIT_CONFIG_VALUE_0`: an `http.extraHeader`), so it is in no
command line (`ps`), no `.git/config`, no remote URL and no log; the clone's remote is the plain URL.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

from agent.github.client import GitHubError, redact, remember_secret

BRANCH_PREFIX = "lit2code/"


def branch_name(digest_path: str, blob_sha: str) -> str:
    """The deterministic branch of a digest's version: lit2code/<digest-slug>-<blob-sha8>."""
    stem = Path(digest_path).stem.lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:60] or "digest"
    return f"{BRANCH_PREFIX}{slug}-{blob_sha[:8]}"


def _env(token: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",  # never wait for a password
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if token:
        remember_secret(token)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        remember_secret(basic)
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    return env


def git(cwd: Path, *args: str, token: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-c", "user.name=lit2code", "-c", "user.email=lit2code@users.noreply.github.com", *args],
        cwd=cwd,
        env=_env(token),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise GitHubError(f"git {args[0]} failed: {redact(proc.stderr.strip())[-500:]}")
    return proc


def checkout(clone_url: str, token: str, dest: Path, branch: str, base: str) -> bool:
    """`dest` holds the target repository on `branch`: the remote branch if it exists (True), else a new
    branch from `base` (False). A clone an interrupted job left keeps its local branch and the commits on
    it that were not pushed yet: the resumed run counts them as made."""
    if not (dest / ".git").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        git(dest.parent, "clone", "--quiet", "--no-tags", clone_url, dest.name, token=token)
    git(dest, "fetch", "--quiet", "--prune", "origin", token=token)
    exists = git(dest, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", check=False).returncode == 0
    if git(dest, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        git(dest, "checkout", "--quiet", branch)
        return exists
    git(dest, "checkout", "--quiet", "-b", branch, f"origin/{branch}" if exists else f"origin/{base}")
    return exists


def has_news(dest: Path, branch: str, base: str) -> bool:
    """Is the local branch ahead of what the remote has (of the branch, or of base for a new branch)?"""
    remote = f"origin/{branch}"
    if git(dest, "rev-parse", "--verify", "--quiet", remote, check=False).returncode != 0:
        remote = f"origin/{base}"
    local, theirs = git(dest, "rev-parse", "HEAD").stdout.strip(), git(dest, "rev-parse", remote).stdout.strip()
    return local != theirs


def commits_ahead(dest: Path, base: str) -> int:
    return int(git(dest, "rev-list", "--count", f"origin/{base}..HEAD").stdout.strip() or 0)


def push(dest: Path, token: str, branch: str, rewrite: bool = False) -> None:
    """Push the branch; `rewrite` (a dropped commit) overwrites it, but only if nobody else moved it."""
    lease = [f"--force-with-lease=refs/heads/{branch}"] if rewrite else []
    git(dest, "push", "--quiet", *lease, "origin", f"HEAD:refs/heads/{branch}", token=token)
