"""The one module that talks to GitHub's REST API, through githubkit.

Authentication is a GitHub App (a JWT signed with its key buys an installation token; githubkit refreshes
it as it expires, so long runs keep working) or a fine-grained personal access token. Every token this
process sees is registered with `redact`, so that no log line or error message can carry one.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal

from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.exception import GitHubException, RequestFailed
from githubkit.utils import UNSET

from agent.settings import Settings

log = logging.getLogger("lit2code.github")
StatusState = Literal["error", "failure", "pending", "success"]
_SECRETS: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    if value:
        with _lock:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every token and key this process knows replaced by `***`."""
    with _lock:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """On a handler: no record it emits carries a secret, whatever the message or its arguments hold."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:  # a traceback quotes the exception's message: redacted the same way
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class GitHubError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status


class AuthError(GitHubError):
    pass


def _failed(exc: Exception, what: str) -> GitHubError:
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        try:
            message = exc.response.json().get("message", "")
        except Exception:  # noqa: BLE001 - a body that is not JSON
            message = exc.response.text[:200]
        return GitHubError(f"{what}: GitHub answered {status} {message}", status)
    return GitHubError(f"{what}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Repo:
    owner: str
    name: str

    @classmethod
    def parse(cls, full_name: str) -> Repo:
        owner, _, name = full_name.partition("/")
        return cls(owner, name)

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


class GitHubClient:
    """What lit2code does on GitHub, for one installation (App) or one token."""

    def __init__(self, env: Settings, installation_id: int | None = None) -> None:
        self.env = env
        self.app_id = env.github_app_id
        self.key = env.app_private_key()
        self.token = env.github_token.get_secret_value() if env.github_token else None
        self.installation_id = installation_id
        remember_secret(self.key)
        remember_secret(self.token)
        if self.app_id and self.key and installation_id is not None:
            auth: Any = AppInstallationAuthStrategy(self.app_id, self.key, installation_id)
            self.kind = "app"
        elif self.token:
            auth = TokenAuthStrategy(self.token)
            self.kind = "token"
        else:
            raise AuthError(
                "no GitHub credentials: set LIT2CODE_GITHUB_APP_ID and LIT2CODE_GITHUB_PRIVATE_KEY[_FILE] "
                "(a GitHub App, with the event's installation), or LIT2CODE_GITHUB_TOKEN (a fine-grained token)"
            )
        self.gh: GitHub[Any] = GitHub(auth, base_url=env.github_api_url, http_cache=False, timeout=30)

    # -- who we are ------------------------------------------------------------------------------
    def self_login(self) -> str:
        """The login lit2code's comments are made by (the App's bot, or the token's user)."""
        try:
            if self.kind == "app":
                assert self.app_id and self.key
                app = GitHub(AppAuthStrategy(self.app_id, self.key), base_url=self.env.github_api_url)
                me = app.rest.apps.get_authenticated().parsed_data
                if me is None or not me.slug:
                    raise GitHubError("GitHub did not say which App these credentials are")
                return f"{me.slug}[bot]"
            return self.gh.rest.users.get_authenticated().parsed_data.login
        except GitHubException as exc:
            raise _failed(exc, "reading lit2code's own identity") from exc

    def git_token(self, repo: Repo) -> str:
        """A token for git over HTTPS: a fresh installation token (an hour's life) or the personal token."""
        if self.kind == "token":
            assert self.token
            return self.token
        assert self.app_id and self.key
        try:
            app = GitHub(AppAuthStrategy(self.app_id, self.key), base_url=self.env.github_api_url)
            inst = app.rest.apps.get_repo_installation(repo.owner, repo.name).parsed_data
            token = app.rest.apps.create_installation_access_token(inst.id).parsed_data.token
        except GitHubException as exc:
            raise _failed(exc, f"getting a token to push to {repo}") from exc
        remember_secret(token)
        return token

    # -- reading -----------------------------------------------------------------------------------
    def permission(self, repo: Repo, login: str) -> str:
        """admin, write, read or none, from the collaborator-permission endpoint (org members included)."""
        try:
            data = self.gh.rest.repos.get_collaborator_permission_level(repo.owner, repo.name, login).parsed_data
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return "none"
            raise _failed(exc, f"reading {login}'s permission on {repo}") from exc
        except GitHubException as exc:
            raise _failed(exc, f"reading {login}'s permission on {repo}") from exc
        return data.permission

    def repo_info(self, repo: Repo) -> tuple[str, str]:
        """(default branch, clone URL)."""
        try:
            data = self.gh.rest.repos.get(repo.owner, repo.name).parsed_data
        except GitHubException as exc:
            raise _failed(exc, f"reading repository {repo}") from exc
        return data.default_branch, data.clone_url

    def file(self, repo: Repo, path: str, ref: str) -> tuple[str, str] | None:
        """(text, git blob sha) of a file at `ref`, or None when there is no such file."""
        try:
            data = self.gh.rest.repos.get_content(repo.owner, repo.name, path, ref=ref).parsed_data
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return None
            raise _failed(exc, f"reading {path} of {repo}") from exc
        except GitHubException as exc:
            raise _failed(exc, f"reading {path} of {repo}") from exc
        if isinstance(data, list) or getattr(data, "type", "") != "file":
            return None
        content = getattr(data, "content", "") or ""
        raw = base64.b64decode(content) if getattr(data, "encoding", "base64") == "base64" else content.encode()
        return raw.decode("utf-8", "replace"), data.sha

    def head(self, repo: Repo, branch: str) -> str:
        try:
            return self.gh.rest.repos.get_branch(repo.owner, repo.name, branch).parsed_data.commit.sha
        except GitHubException as exc:
            raise _failed(exc, f"reading branch {branch} of {repo}") from exc

    def pull(self, repo: Repo, number: int) -> dict[str, Any]:
        try:
            pr = self.gh.rest.pulls.get(repo.owner, repo.name, number).parsed_data
        except GitHubException as exc:
            raise _failed(exc, f"reading pull request #{number} of {repo}") from exc
        return {"head": pr.head.ref, "base": pr.base.ref, "head_repo": pr.head.repo.full_name if pr.head.repo else ""}

    # -- writing -----------------------------------------------------------------------------------
    def comment(self, repo: Repo, number: int, body: str, comment_id: int | None = None) -> int:
        """Post a comment, or edit ours in place when `comment_id` is given; returns its id."""
        try:
            if comment_id is not None:
                self.gh.rest.issues.update_comment(repo.owner, repo.name, comment_id, body=body)
                return comment_id
            return self.gh.rest.issues.create_comment(repo.owner, repo.name, number, body=body).parsed_data.id
        except GitHubException as exc:
            raise _failed(exc, f"commenting on #{number} of {repo}") from exc

    def react(self, repo: Repo, comment_id: int) -> None:
        """An 👀 on a command: seen, and queued."""
        try:
            self.gh.rest.reactions.create_for_issue_comment(repo.owner, repo.name, comment_id, content="eyes")
        except GitHubException as exc:
            log.warning("%s", _failed(exc, "reacting to a command"))  # a missing reaction harms nothing

    def find_pull(self, repo: Repo, branch: str) -> int | None:
        try:
            found = self.gh.rest.pulls.list(repo.owner, repo.name, state="open", head=f"{repo.owner}:{branch}")
        except GitHubException as exc:
            raise _failed(exc, f"looking for the pull request of {branch} in {repo}") from exc
        return found.parsed_data[0].number if found.parsed_data else None

    def open_pull(self, repo: Repo, branch: str, base: str, title: str, body: str) -> int:
        try:
            pr = self.gh.rest.pulls.create(
                repo.owner, repo.name, title=title, head=branch, base=base, body=body, draft=True
            )
        except GitHubException as exc:
            raise _failed(exc, f"opening a pull request for {branch} in {repo}") from exc
        return pr.parsed_data.number

    def update_pull(self, repo: Repo, number: int, body: str) -> None:
        try:
            self.gh.rest.pulls.update(repo.owner, repo.name, number, body=body)
        except GitHubException as exc:
            raise _failed(exc, f"updating pull request #{number} of {repo}") from exc

    def check_start(self, repo: Repo, sha: str, external_id: str, details_url: str | None) -> int | None:
        """A check run (queued) on the commit; with a personal token, a pending commit status instead."""
        try:
            if self.kind == "app":
                run = self.gh.rest.checks.create(
                    repo.owner,
                    repo.name,
                    name="lit2code",
                    head_sha=sha,
                    status="queued",
                    external_id=external_id,
                    details_url=details_url or UNSET,
                )
                return run.parsed_data.id
            self._status(repo, sha, "pending", "queued", details_url)
            return None
        except GitHubException as exc:
            raise _failed(exc, f"reporting on {sha[:8]} of {repo}") from exc

    def check_update(
        self,
        repo: Repo,
        sha: str,
        check_id: int | None,
        status: str,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        details_url: str | None = None,
    ) -> None:
        try:
            if self.kind == "app" and check_id is not None:
                fields: dict[str, Any] = {"status": status}
                if conclusion:
                    fields["conclusion"] = conclusion
                if title:
                    fields["output"] = {"title": title[:255], "summary": summary[:65000] or title}
                self.gh.rest.checks.update(repo.owner, repo.name, check_id, **fields)
            else:
                state: StatusState = "pending" if conclusion is None else "failure"
                if conclusion in ("success", "neutral"):
                    state = "success"
                self._status(repo, sha, state, title or status, details_url)
        except GitHubException as exc:
            raise _failed(exc, f"reporting on {sha[:8]} of {repo}") from exc

    def _status(self, repo: Repo, sha: str, state: StatusState, description: str, url: str | None) -> None:
        self.gh.rest.repos.create_commit_status(
            repo.owner,
            repo.name,
            sha,
            state=state,
            context="lit2code",
            description=description[:140],
            target_url=url or UNSET,
        )
