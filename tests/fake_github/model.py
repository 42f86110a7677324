"""The fake GitHub's records (users, repos, apps, tokens, issues, pulls, comments, check runs) and access rules."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ROLE_ORDER = ["none", "read", "triage", "write", "maintain", "admin"]
# The legacy base permission the collaborator-permission endpoint reports for each role.
ROLE_TO_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
DEFAULT_APP_PERMISSIONS: dict[str, str] = {
    "metadata": "read",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "checks": "write",
    "statuses": "write",
}
DEFAULT_APP_EVENTS = ["push", "issue_comment", "pull_request", "check_run"]
# What a fine-grained PAT gets when the test does not say: every repository permission the flows use.
DEFAULT_PAT_PERMISSIONS: dict[str, str] = {
    "metadata": "read",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "statuses": "write",
    "checks": "read",
}
PERMISSION_LEVEL = {"none": 0, "read": 1, "write": 2, "admin": 3}
CHECK_STATUSES = ("queued", "in_progress", "completed")
ACTIONS_ONLY_STATUSES = ("waiting", "requested", "pending")
CHECK_CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def now() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, ident: int) -> str:
    """A node id in GitHub's current format (`PREFIX_kgDO` + base64 of the id)."""
    raw = base64.urlsafe_b64encode(ident.to_bytes(8, "big").lstrip(b"\0") or b"\0").decode().rstrip("=")
    return f"{prefix}_kgDO{raw}"


@dataclass
class User:
    id: int
    login: str
    type: Literal["User", "Organization", "Bot"] = "User"
    name: str | None = None
    email: str | None = None
    created_at: float = field(default_factory=now)
    # organisations only: member login -> membership is public
    members: dict[str, bool] = field(default_factory=dict)
    app_id: int | None = None  # bots only


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    private: bool = True
    default_branch: str = "main"
    description: str | None = None
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    pushed_at: float | None = None
    # login -> (role, via) with via "collaborator" or "org"
    roles: dict[str, tuple[str, str]] = field(default_factory=dict)
    has_issues: bool = True

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    client_id: str
    client_secret: str
    private_key_pem: str
    public_key_pem: str
    webhook_secret: str
    permissions: dict[str, str]
    events: list[str]
    bot_login: str
    description: str | None = None
    created_at: float = field(default_factory=now)


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    repository_selection: Literal["all", "selected"]
    repo_ids: list[int]
    permissions: dict[str, str]
    events: list[str]
    created_at: float = field(default_factory=now)
    suspended_at: float | None = None


@dataclass
class Token:
    value: str
    kind: Literal["fine_grained", "classic", "installation"]
    login: str  # the user (PAT) or the app's bot (installation)
    permissions: dict[str, str]
    repo_ids: list[int] | None  # None: every repository the owner / installation can reach
    expires_at: float | None
    installation_id: int | None = None
    created_at: float = field(default_factory=now)
    revoked: bool = False
    scopes: list[str] = field(default_factory=list)  # classic only

    def expired(self, at: float | None = None) -> bool:
        return self.revoked or (self.expires_at is not None and (at or now()) >= self.expires_at)


@dataclass
class Issue:
    id: int
    repo_id: int
    number: int
    title: str
    body: str | None
    user: str
    state: Literal["open", "closed"] = "open"
    state_reason: str | None = None
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    closed_at: float | None = None
    locked: bool = False
    labels: list[str] = field(default_factory=list)
    app_id: int | None = None
    # pull requests only
    is_pull: bool = False
    pull_id: int | None = None
    head_ref: str | None = None
    head_owner: str | None = None
    base_ref: str | None = None
    draft: bool = False
    merged_at: float | None = None
    maintainer_can_modify: bool = False


@dataclass
class Comment:
    id: int
    repo_id: int
    issue_number: int
    body: str
    user: str
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    app_id: int | None = None


@dataclass
class Reaction:
    id: int
    comment_id: int
    user: str
    content: str
    created_at: float = field(default_factory=now)


@dataclass
class CheckRun:
    id: int
    repo_id: int
    app_id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    check_suite_id: int
    external_id: str | None = None
    details_url: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    output: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CommitStatus:
    id: int
    repo_id: int
    sha: str
    state: str
    context: str
    creator: str
    target_url: str | None = None
    description: str | None = None
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)


@dataclass(frozen=True)
class Identity:
    """Who a request authenticated as."""

    kind: Literal["anonymous", "user", "installation", "app"]
    login: str | None = None  # user login, or the app's bot login for an installation, or the app slug
    token: str | None = None
    app_id: int | None = None
    installation_id: int | None = None

    def describe(self) -> str:
        if self.kind == "anonymous":
            return "anonymous"
        if self.kind == "installation":
            return f"installation:{self.installation_id}"
        if self.kind == "app":
            return f"app:{self.app_id}"
        return f"user:{self.login}"


@dataclass
class RecordedRequest:
    """One request the fake served, in arrival order."""

    seq: int
    time: float
    kind: Literal["rest", "git", "control", "other"]
    method: str
    path: str  # REST: relative to the API root (e.g. /repos/o/r/pulls); git: the URL path
    endpoint: str  # e.g. "POST /repos/{owner}/{repo}/pulls" or "git-receive-pack"
    query: dict[str, str]
    status: int
    identity: str  # Identity.describe(), or "invalid" for rejected credentials
    login: str | None
    token: str | None
    json: Any = None  # the parsed request body of REST calls
    user_agent: str | None = None
    api_version: str | None = None
    fault: bool = False
    duration_s: float = 0.0
    # selected request headers: accept, content-type, content-encoding, transfer-encoding, git-protocol, if-none-match
    request_headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PushRecord:
    """A ref update made through git-receive-pack."""

    repo: str
    ref: str
    before: str
    after: str
    pusher: str | None
    time: float = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Fault:
    """An injected failure for the next `times` matching requests."""

    endpoint: str | None  # an endpoint template ("POST /repos/{owner}/{repo}/pulls", "git-receive-pack") or None
    path_contains: str | None
    status: int
    times: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    rate_limit: Literal["primary", "secondary"] | None = None
    retry_after: int = 1

    def matches(self, method: str, endpoint: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.endpoint is not None and self.endpoint not in (endpoint, f"{method} {path}"):
            return False
        return not (self.path_contains is not None and self.path_contains not in path)


class ApiError(Exception):
    """An error answer in GitHub's shape: {"message", "documentation_url", "status"} (+ "errors")."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        doc: str = "https://docs.github.com/rest",
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.doc = doc
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.doc
        out["status"] = str(self.status)
        return out


def validation_failed(doc: str, *errors: dict[str, Any]) -> ApiError:
    return ApiError(422, "Validation Failed", doc=doc, errors=list(errors))


def not_found(doc: str = "https://docs.github.com/rest") -> ApiError:
    return ApiError(404, "Not Found", doc=doc)
