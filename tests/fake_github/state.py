"""The fake GitHub's state: what tests set up, what the HTTP side changes, and GitHub-shaped JSON views of it.

Every public method here takes and returns JSON-able values only, so the same calls work in-process and, through
the `/_fake/call/<name>` control API, against a fake running in a subprocess.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import gitrepo
from .model import (
    DEFAULT_APP_EVENTS,
    DEFAULT_APP_PERMISSIONS,
    DEFAULT_PAT_PERMISSIONS,
    ROLE_ORDER,
    App,
    CheckRun,
    Comment,
    CommitStatus,
    Fault,
    Identity,
    Installation,
    Issue,
    PushRecord,
    Reaction,
    RecordedRequest,
    Repo,
    Token,
    User,
    iso,
    node_id,
    now,
)

_CONTROL: set[str] = set()
# Ids are unique across every fake of a process: githubkit caches JWTs and installation tokens process-wide under
# the app id and installation id, so two fakes handing out the same ids would serve each other's cached tokens.
_ID_LOCK = threading.Lock()
_ID_COUNTERS: dict[str, int] = {}


def control(fn: Any) -> Any:
    """Marks a method as callable through the `/_fake/call/<name>` control API."""
    _CONTROL.add(fn.__name__)
    return fn


def _token(prefix: str, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class FakeState:
    """Users, repositories, apps, tokens and everything the REST side creates, guarded by one lock."""

    CONTROL_METHODS = _CONTROL

    def __init__(self, state_dir: Path | str) -> None:
        self.state_dir = Path(state_dir)
        self.repos_root = self.state_dir / "repos"
        self.repos_root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1"
        self.users: dict[str, User] = {}  # lower-case login -> user
        self.repos: dict[int, Repo] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.issues: dict[tuple[int, int], Issue] = {}  # (repo id, number)
        self.comments: dict[int, Comment] = {}
        self.reactions: dict[int, Reaction] = {}
        self.check_runs_by_id: dict[int, CheckRun] = {}
        self.statuses_by_id: dict[int, CommitStatus] = {}
        self.recorded: list[RecordedRequest] = []
        self.push_log: list[PushRecord] = []
        self.faults: list[Fault] = []
        self.installation_token_lifetime_s = 3600.0
        self.rate_limits = {"anonymous": 60, "user": 5000, "installation": 5000, "app": 5000}
        self.rate_usage: dict[str, tuple[float, int]] = {}  # bucket -> (window reset epoch, used)
        self.check_suites: dict[tuple[int, str, int], int] = {}  # (repo, sha, app) -> suite id
        self.max_comment_length = 65536
        self.clock_offset = 0.0
        self.webhook: dict[str, Any] | None = None
        self.sent_deliveries: list[dict[str, Any]] = []
        self._outbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._pending = 0

    def now(self) -> float:
        """The fake's clock (the real clock shifted by set_clock_offset, to model clock skew)."""
        return now() + self.clock_offset

    @control
    def set_clock_offset(self, seconds: float) -> None:
        """Shift the fake's clock (JWT iat/exp checks, token expiry) by `seconds` against the client's."""
        with self.lock:
            self.clock_offset = float(seconds)

    # ------------------------------------------------------------------ outgoing webhooks
    @control
    def configure_webhook(
        self,
        url: str,
        secret: str,
        *,
        events: list[str] | None = None,
        installation_id: int | None = None,
    ) -> None:
        """Deliver events the fake itself causes to `url`, signed with `secret`, as GitHub would: `issue_comment`
        when a comment is created or edited through the REST API (so a bot's own status comment comes back to
        it), `push` when git-receive-pack updates a branch. Deliveries go out in order, after the answer."""
        with self.lock:
            self.webhook = {
                "url": url,
                "secret": secret,
                "events": list(events or ["issue_comment", "push"]),
                "installation_id": installation_id,
            }

    def emit(self, event: str, build: Any) -> None:
        """Queue a delivery of `event` whose payload `build()` makes (only when a webhook is configured for it)."""
        hook = self.webhook
        if hook is None or event not in hook["events"]:
            return
        payload = build(hook["installation_id"])
        with self.lock:
            self._pending += 1
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_loop, name="fake-github-hooks", daemon=True)
                self._sender.start()
        self._outbox.put((event, payload))

    def _send_loop(self) -> None:
        import httpx

        from .webhooks import build_delivery

        while True:
            event, payload = self._outbox.get()
            hook = self.webhook or {}
            delivery = build_delivery(event, payload, secret=hook.get("secret"))
            record: dict[str, Any] = {"event": event, "delivery_id": delivery.delivery_id, "payload": payload}
            try:
                resp = httpx.post(hook["url"], content=delivery.body, headers=delivery.headers, timeout=10)
                record |= {"status": resp.status_code, "response": resp.text[:2000]}
            except httpx.HTTPError as exc:
                record |= {"status": None, "response": f"{type(exc).__name__}: {exc}"}
            with self.lock:
                self.sent_deliveries.append(record)
                self._pending -= 1

    @control
    def deliveries(self, *, wait_s: float = 5.0) -> list[dict[str, Any]]:
        """Webhook deliveries the fake sent (event, delivery_id, payload, status, response), after waiting up to
        `wait_s` for queued ones to go out."""
        deadline = time.monotonic() + wait_s
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.02)
        with self.lock:
            return list(self.sent_deliveries)

    @control
    def issued_tokens(self) -> list[str]:
        """Every token the fake issued (PATs and installation tokens): grep logs and files for these."""
        with self.lock:
            return list(self.tokens)

    # ------------------------------------------------------------------ rate limits
    def _bucket(self, identity: Identity) -> tuple[str, str]:
        if identity.kind == "user":
            return "user", f"user:{identity.login}"
        if identity.kind == "installation":
            return "installation", f"installation:{identity.installation_id}"
        if identity.kind == "app":
            return "app", f"app:{identity.app_id}"
        return "anonymous", "ip:127.0.0.1"

    def rate_status(self, identity: Identity, *, count: bool = False) -> tuple[int, int, int, int]:
        """(limit, remaining, reset epoch, used) of the caller's hourly core bucket; `count` spends one request."""
        kind, key = self._bucket(identity)
        with self.lock:
            limit = self.rate_limits[kind]
            t = self.now()
            reset, used = self.rate_usage.get(key, (t + 3600, 0))
            if t >= reset:
                reset, used = t + 3600, 0
            if count:
                used += 1
            self.rate_usage[key] = (reset, used)
            return limit, max(0, limit - used), int(reset), used

    def rate_limited_message(self, identity: Identity) -> str:
        if identity.kind == "user":
            return f"API rate limit exceeded for user ID {self.user(identity.login or '').id}."
        if identity.kind == "installation":
            return f"API rate limit exceeded for installation ID {identity.installation_id}."
        return (
            "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher "
            "rate limit. Check out the documentation for more details.)"
        )

    # ------------------------------------------------------------------ ids and urls
    def next_id(self, kind: str, start: int = 1000) -> int:
        with _ID_LOCK:
            value = _ID_COUNTERS.get(kind, start) + 1
            _ID_COUNTERS[kind] = value
            return value

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v3"

    def git_dir(self, repo: Repo) -> Path:
        return self.repos_root / repo.owner.lower() / f"{repo.name.lower()}.git"

    # ------------------------------------------------------------------ set-up API (tests)
    @control
    def add_user(
        self, login: str, *, name: str | None = None, email: str | None = None, type: str = "User"
    ) -> dict[str, Any]:
        """Create a user (or a Bot) and return its GitHub JSON."""
        with self.lock:
            if login.lower() in self.users:
                raise ValueError(f"user {login} exists")
            user = User(self.next_id("user", 100), login, type, name, email)  # type: ignore[arg-type]
            self.users[login.lower()] = user
            return self.user_json(user)

    @control
    def add_org(self, login: str, *, members: dict[str, bool] | None = None) -> dict[str, Any]:
        """Create an organisation; `members` maps login -> whether the membership is public."""
        with self.lock:
            self.add_user(login, type="Organization")
            org = self.users[login.lower()]
            for member, public in (members or {}).items():
                org.members[member] = public
            return self.user_json(org)

    @control
    def add_org_member(self, org: str, login: str, *, public: bool = False) -> None:
        with self.lock:
            self.user(org).members[login] = public

    @control
    def create_repo(
        self,
        full_name: str,
        *,
        files: dict[str, str] | None = None,
        private: bool = True,
        default_branch: str = "main",
        description: str | None = None,
        message: str = "Initial commit",
        author: str | None = None,
    ) -> dict[str, Any]:
        """Create a repository with a bare git repo; `files` (path -> text) become its first commit."""
        owner, name = full_name.split("/", 1)
        with self.lock:
            if self.find_repo(owner, name) is not None:
                raise ValueError(f"repository {full_name} exists")
            owner_user = self.user(owner)
            repo = Repo(self.next_id("repo", 5000), owner_user.login, name, private, default_branch, description)
            self.repos[repo.id] = repo
        gitrepo.init_bare(self.git_dir(repo), default_branch)
        if files:
            self.commit(full_name, files, message=message, author=author or owner_user.login)
        return self.repo_json(repo)

    @control
    def set_permission(self, full_name: str, login: str, role: str, *, via: str = "collaborator") -> None:
        """Give `login` a role (admin, maintain, write, triage, read, none) on a repository.

        via="org" models access through organisation membership (author_association is then MEMBER only when the
        membership is public, NONE otherwise, as GitHub reports it); via="collaborator" a direct collaborator.
        """
        if role not in ROLE_ORDER:
            raise ValueError(f"unknown role {role}")
        with self.lock:
            repo = self.repo_by_name(full_name)
            self.user(login)
            repo.roles[login.lower()] = (role, via)

    @control
    def create_pat(
        self,
        login: str,
        *,
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
        expires_in: float | None = None,
        kind: str = "fine_grained",
        scopes: list[str] | None = None,
    ) -> str:
        """A personal access token of `login`: fine-grained (limited to `repositories` and `permissions`) or classic."""
        with self.lock:
            self.user(login)
            repo_ids = None if repositories is None else [self.repo_by_name(r).id for r in repositories]
            if kind == "classic":
                value = _token("ghp_", 36)
                perms = {"metadata": "read", "contents": "write", "issues": "write", "pull_requests": "write"}
                perms |= {"statuses": "write", "checks": "read"}
            else:
                value = "github_pat_" + _token("11", 20) + "_" + _token("", 59)
                perms = dict(DEFAULT_PAT_PERMISSIONS if permissions is None else permissions)
            expires = None if expires_in is None else now() + expires_in
            self.tokens[value] = Token(
                value, kind, self.user(login).login, perms, repo_ids, expires, scopes=scopes or ["repo"]
            )  # type: ignore[arg-type]
            return value

    @control
    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    @control
    def create_app(
        self,
        slug: str,
        *,
        owner: str,
        name: str | None = None,
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
        webhook_secret: str | None = None,
    ) -> dict[str, Any]:
        """Register a GitHub App with a fresh RSA key pair; returns id, slug, client_id, private_key_pem, ..."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        with self.lock:
            self.user(owner)
            app_id = self.next_id("app", 900000)
            app = App(
                id=app_id,
                slug=slug,
                name=name or slug,
                owner=self.user(owner).login,
                client_id="Iv23li" + secrets.token_hex(7),
                client_secret=secrets.token_hex(20),
                private_key_pem=private_pem,
                public_key_pem=public_pem,
                webhook_secret=webhook_secret or secrets.token_hex(16),
                permissions=dict(DEFAULT_APP_PERMISSIONS if permissions is None else permissions),
                events=list(DEFAULT_APP_EVENTS if events is None else events),
                bot_login=f"{slug}[bot]",
            )
            self.apps[app_id] = app
            bot = User(self.next_id("user", 100), app.bot_login, "Bot", app_id=app_id)
            bot.id = 41898282 + app_id % 100000  # bots have their own id range on GitHub
            self.users[bot.login.lower()] = bot
            return self.app_credentials(app)

    @control
    def install_app(
        self,
        app_id: int,
        account: str,
        *,
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> int:
        """Install an app on an account (all its repositories, or only `repositories`); returns the installation id."""
        with self.lock:
            app = self.apps[app_id]
            acct = self.user(account)
            repo_ids = [] if repositories is None else [self.repo_by_name(r).id for r in repositories]
            inst = Installation(
                id=self.next_id("installation", 40000000),
                app_id=app_id,
                account=acct.login,
                repository_selection="all" if repositories is None else "selected",
                repo_ids=repo_ids,
                permissions=dict(app.permissions if permissions is None else permissions),
                events=list(app.events),
            )
            self.installations[inst.id] = inst
            return inst.id

    @control
    def set_installation_token_lifetime(self, seconds: float) -> None:
        """Installation tokens issued from now on expire after `seconds` (GitHub: one hour)."""
        with self.lock:
            self.installation_token_lifetime_s = float(seconds)

    @control
    def set_rate_limit(self, kind: str, limit: int) -> None:
        """The hourly primary rate limit for anonymous / user / installation / app callers."""
        with self.lock:
            self.rate_limits[kind] = limit
            self.rate_usage.clear()

    @control
    def create_issue(self, full_name: str, title: str, *, body: str | None = None, user: str) -> dict[str, Any]:
        with self.lock:
            repo = self.repo_by_name(full_name)
            issue = Issue(self.next_id("issue", 2000000), repo.id, self._next_number(repo), title, body, user)
            self.issues[(repo.id, issue.number)] = issue
            return self.issue_json(issue)

    @control
    def add_comment(self, full_name: str, number: int, body: str, *, user: str) -> dict[str, Any]:
        """A comment by `user` (as if made on github.com); returns its JSON (for building an issue_comment event)."""
        with self.lock:
            repo = self.repo_by_name(full_name)
            self.issue_or_404(repo, number)
            comment = Comment(self.next_id("comment", 3000000), repo.id, number, body, self.user(user).login)
            self.comments[comment.id] = comment
            return self.comment_json(comment)

    @control
    def commit(
        self,
        full_name: str,
        files: dict[str, str | None],
        *,
        message: str = "Update files",
        branch: str | None = None,
        author: str | None = None,
        parent: str | None = None,
    ) -> str:
        """Commit files (path -> text, None deletes) to a branch, as a user's push would; returns the commit sha.

        A new branch starts from the default branch (or from `parent`, a commit sha)."""
        repo = self.repo_by_name(full_name)
        login = author or repo.owner
        user = self.users.get(login.lower())
        email = (user.email if user and user.email else None) or f"{(user.id if user else 0)}+{login}@users.noreply"
        repo.pushed_at = now()
        target = branch or repo.default_branch
        if parent is None and gitrepo.resolve(self.git_dir(repo), f"refs/heads/{target}") is None:
            parent = gitrepo.resolve(self.git_dir(repo), f"refs/heads/{repo.default_branch}")
        return gitrepo.commit_files(
            self.git_dir(repo),
            branch or repo.default_branch,
            dict(files),
            message,
            author_name=(user.name if user and user.name else login),
            author_email=email,
            parent=parent,
        )

    @control
    def create_branch(self, full_name: str, branch: str, from_ref: str | None = None) -> str:
        repo = self.repo_by_name(full_name)
        sha = gitrepo.resolve(self.git_dir(repo), from_ref or repo.default_branch)
        if sha is None:
            raise ValueError(f"no ref {from_ref}")
        gitrepo.set_ref(self.git_dir(repo), f"refs/heads/{branch}", sha)
        return sha

    @control
    def delete_branch(self, full_name: str, branch: str) -> None:
        repo = self.repo_by_name(full_name)
        gitrepo.set_ref(self.git_dir(repo), f"refs/heads/{branch}", None)

    @control
    def inject_fault(
        self,
        endpoint: str | None = None,
        *,
        status: int = 502,
        times: int = 1,
        path_contains: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
        rate_limit: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """The next `times` requests matching `endpoint` (a template such as "POST /repos/{owner}/{repo}/pulls", a
        concrete "METHOD /path", or "git-receive-pack" / "git-upload-pack") and `path_contains` fail with `status`.

        rate_limit="primary" answers like an exhausted rate limit (403, x-ratelimit-remaining: 0, reset in
        `retry_after` s); "secondary" like a secondary limit (403 with retry-after). delay_s delays the answer
        (status 0 with delay_s only delays and then serves the request normally)."""
        with self.lock:
            self.faults.append(
                Fault(
                    endpoint, path_contains, status, times, body, dict(headers or {}), delay_s, rate_limit, retry_after
                )  # type: ignore[arg-type]
            )

    @control
    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # ------------------------------------------------------------------ read-back API (assertions)
    @control
    def requests(
        self,
        endpoint: str | None = None,
        *,
        method: str | None = None,
        kind: str | None = None,
        path_contains: str | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded requests in order, filtered; each a dict (see RecordedRequest)."""
        with self.lock:
            out = []
            for r in self.recorded:
                if endpoint is not None and r.endpoint != endpoint:
                    continue
                if method is not None and r.method != method.upper():
                    continue
                if kind is not None and r.kind != kind:
                    continue
                if path_contains is not None and path_contains not in r.path:
                    continue
                out.append(r.to_dict())
            return out

    @control
    def clear_requests(self) -> None:
        with self.lock:
            self.recorded.clear()

    @control
    def pushes(self, full_name: str | None = None) -> list[dict[str, Any]]:
        """Ref updates made through git-receive-pack (repo, ref, before, after, pusher), in order."""
        with self.lock:
            return [p.to_dict() for p in self.push_log if full_name is None or p.repo.lower() == full_name.lower()]

    @control
    def branches(self, full_name: str) -> dict[str, str]:
        return gitrepo.branches(self.git_dir(self.repo_by_name(full_name)))

    @control
    def read_file(self, full_name: str, path: str, ref: str | None = None) -> str | None:
        repo = self.repo_by_name(full_name)
        data = gitrepo.read_file(self.git_dir(repo), ref or repo.default_branch, path)
        return None if data is None else data.decode("utf-8", errors="replace")

    @control
    def list_files(self, full_name: str, ref: str | None = None) -> list[str]:
        repo = self.repo_by_name(full_name)
        sha = gitrepo.resolve(self.git_dir(repo), ref or repo.default_branch)
        if sha is None:
            return []
        out = gitrepo.git(self.git_dir(repo), "ls-tree", "-r", "--name-only", "-z", sha)
        return [p for p in out.decode().split("\0") if p]

    @control
    def commits(self, full_name: str, ref: str | None = None, *, exclude: str | None = None) -> list[dict[str, Any]]:
        """Commits reachable from `ref` and not from `exclude`, newest first: sha, message, parents, author, files."""
        repo = self.repo_by_name(full_name)
        gdir = self.git_dir(repo)
        head = gitrepo.resolve(gdir, ref or repo.default_branch)
        if head is None:
            return []
        ex = gitrepo.resolve(gdir, exclude) if exclude else None
        out = []
        for sha in gitrepo.log(gdir, head, 1000, ex):
            info = gitrepo.commit_info(gdir, sha)
            out.append(
                {
                    "sha": sha,
                    "message": info.message,
                    "parents": info.parents,
                    "tree": info.tree,
                    "timestamp": info.author_date,
                    "author": {"name": info.author_name, "email": info.author_email},
                    "committer": {"name": info.committer_name, "email": info.committer_email},
                    **gitrepo.changed_files(gdir, sha),
                }
            )
        return out

    @control
    def resolve_ref(self, full_name: str, ref: str) -> str | None:
        return gitrepo.resolve(self.git_dir(self.repo_by_name(full_name)), ref)

    @control
    def pulls(self, full_name: str) -> list[dict[str, Any]]:
        with self.lock:
            repo = self.repo_by_name(full_name)
            items = [i for i in self.issues.values() if i.repo_id == repo.id and i.is_pull]
            return [self.pull_json(i) for i in sorted(items, key=lambda i: i.number)]

    @control
    def issue(self, full_name: str, number: int) -> dict[str, Any]:
        with self.lock:
            return self.issue_json(self.issue_or_404(self.repo_by_name(full_name), number))

    @control
    def comments_on(self, full_name: str, number: int | None = None) -> list[dict[str, Any]]:
        """Issue / PR comments of a repository (of one issue when `number` is given), oldest first."""
        with self.lock:
            repo = self.repo_by_name(full_name)
            items = [
                c
                for c in self.comments.values()
                if c.repo_id == repo.id and (number is None or c.issue_number == number)
            ]
            return [self.comment_json(c) for c in sorted(items, key=lambda c: c.id)]

    @control
    def reactions_on(self, comment_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [self.reaction_json(r) for r in self.reactions.values() if r.comment_id == comment_id]

    @control
    def check_runs(self, full_name: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            repo = self.repo_by_name(full_name)
            runs = [
                r
                for r in self.check_runs_by_id.values()
                if r.repo_id == repo.id and (head_sha is None or r.head_sha == head_sha)
            ]
            return [self.check_run_json(r) for r in sorted(runs, key=lambda r: r.id)]

    @control
    def commit_statuses(self, full_name: str, sha: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            repo = self.repo_by_name(full_name)
            items = [s for s in self.statuses_by_id.values() if s.repo_id == repo.id and (sha is None or s.sha == sha)]
            return [self.status_json(s) for s in sorted(items, key=lambda s: s.id)]

    @control
    def repo(self, full_name: str) -> dict[str, Any]:
        return self.repo_json(self.repo_by_name(full_name), full=True)

    @control
    def user_json_of(self, login: str) -> dict[str, Any]:
        """A user's (or bot's) JSON as it appears in payloads (`sender`, `user`)."""
        with self.lock:
            return self.user_json(self.user(login))

    @control
    def app(self, app_id: int) -> dict[str, Any]:
        return self.app_credentials(self.apps[app_id])

    @control
    def urls(self) -> dict[str, str]:
        return {"url": self.base_url, "api_url": self.api_url}

    # ------------------------------------------------------------------ lookups
    def user(self, login: str) -> User:
        try:
            return self.users[login.lower()]
        except KeyError:
            raise ValueError(f"no user {login}") from None

    def find_repo(self, owner: str, name: str) -> Repo | None:
        owner_l, name_l = owner.lower(), name.lower()
        for repo in self.repos.values():
            if repo.owner.lower() == owner_l and repo.name.lower() == name_l:
                return repo
        return None

    def repo_by_name(self, full_name: str) -> Repo:
        owner, name = full_name.split("/", 1)
        repo = self.find_repo(owner, name)
        if repo is None:
            raise ValueError(f"no repository {full_name}")
        return repo

    def issue_or_404(self, repo: Repo, number: int) -> Issue:
        from .model import not_found

        issue = self.issues.get((repo.id, number))
        if issue is None:
            raise not_found("https://docs.github.com/rest/issues/issues#get-an-issue")
        return issue

    def _next_number(self, repo: Repo) -> int:
        return max((n for (rid, n) in self.issues if rid == repo.id), default=0) + 1

    def app_credentials(self, app: App) -> dict[str, Any]:
        return {
            "id": app.id,
            "slug": app.slug,
            "name": app.name,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "private_key_pem": app.private_key_pem,
            "webhook_secret": app.webhook_secret,
            "bot_login": app.bot_login,
            "bot_id": self.user(app.bot_login).id,
        }

    # ------------------------------------------------------------------ access rules
    def role_of(self, login: str | None, repo: Repo) -> str:
        """The user's role on a repository: owner admin, explicit roles, org owner-less default none; public read."""
        if login is None:
            return "read" if not repo.private else "none"
        low = login.lower()
        if repo.owner.lower() == low:
            return "admin"
        role = repo.roles.get(low, ("none", ""))[0]
        if role == "none" and not repo.private:
            return "read"
        return role

    def author_association(self, login: str, repo: Repo) -> str:
        low = login.lower()
        if repo.owner.lower() == low:
            return "OWNER"
        role, via = repo.roles.get(low, ("none", ""))
        owner = self.users.get(repo.owner.lower())
        if owner is not None and owner.type == "Organization":
            for member, public in owner.members.items():
                if member.lower() == low:
                    return "MEMBER" if public else ("COLLABORATOR" if via == "collaborator" else "NONE")
        if role != "none" and via == "collaborator":
            return "COLLABORATOR"
        return "NONE"

    def installation_repo_ids(self, inst: Installation) -> list[int]:
        if inst.repository_selection == "all":
            return [r.id for r in self.repos.values() if r.owner.lower() == inst.account.lower()]
        return list(inst.repo_ids)

    def token_reaches(self, token: Token, repo: Repo) -> bool:
        """Whether a token can see a repository at all (before permissions)."""
        if token.kind == "installation":
            inst = self.installations.get(token.installation_id or 0)
            if inst is None or inst.suspended_at is not None or repo.id not in self.installation_repo_ids(inst):
                return False
            return token.repo_ids is None or repo.id in token.repo_ids
        if token.repo_ids is not None and repo.id not in token.repo_ids:
            return not repo.private  # fine-grained tokens still read public repositories
        return self.role_of(token.login, repo) != "none"

    # ------------------------------------------------------------------ JSON views (GitHub's documented shapes)
    def user_json(self, user: User) -> dict[str, Any]:
        api, base = self.api_url, self.base_url
        login_q = quote(user.login)
        prefix = {"User": "U", "Organization": "O", "Bot": "BOT"}[user.type]
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id(prefix, user.id),
            "avatar_url": f"{base}/avatars/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": f"{api}/users/{login_q}",
            "html_url": f"{base}/apps/{user.login[:-5]}" if user.type == "Bot" else f"{base}/{user.login}",
            "followers_url": f"{api}/users/{login_q}/followers",
            "following_url": f"{api}/users/{login_q}/following{{/other_user}}",
            "gists_url": f"{api}/users/{login_q}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{login_q}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{login_q}/subscriptions",
            "organizations_url": f"{api}/users/{login_q}/orgs",
            "repos_url": f"{api}/users/{login_q}/repos",
            "events_url": f"{api}/users/{login_q}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{login_q}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def login_json(self, login: str) -> dict[str, Any]:
        user = self.users.get(login.lower())
        if user is None:
            user = User(0, login)
        return self.user_json(user)

    def private_user_json(self, user: User) -> dict[str, Any]:
        owned = [r for r in self.repos.values() if r.owner.lower() == user.login.lower()]
        return {
            **self.user_json(user),
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "notification_email": user.email,
            "public_repos": sum(1 for r in owned if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.created_at),
            "private_gists": 0,
            "total_private_repos": sum(1 for r in owned if r.private),
            "owned_private_repos": sum(1 for r in owned if r.private),
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
            "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
        }

    def repo_json(self, repo: Repo, *, full: bool = False, viewer: str | None = None) -> dict[str, Any]:
        api, base = self.api_url, self.base_url
        fn = repo.full_name
        r = f"{api}/repos/{fn}"
        owner = self.users[repo.owner.lower()]
        open_issues = sum(1 for i in self.issues.values() if i.repo_id == repo.id and i.state == "open")
        host = base.split("://", 1)[-1]
        out: dict[str, Any] = {
            "id": repo.id,
            "node_id": node_id("R", repo.id),
            "name": repo.name,
            "full_name": fn,
            "private": repo.private,
            "owner": self.user_json(owner),
            "html_url": f"{base}/{fn}",
            "description": repo.description,
            "fork": False,
            "url": r,
            "forks_url": f"{r}/forks",
            "keys_url": f"{r}/keys{{/key_id}}",
            "collaborators_url": f"{r}/collaborators{{/collaborator}}",
            "teams_url": f"{r}/teams",
            "hooks_url": f"{r}/hooks",
            "issue_events_url": f"{r}/issues/events{{/number}}",
            "events_url": f"{r}/events",
            "assignees_url": f"{r}/assignees{{/user}}",
            "branches_url": f"{r}/branches{{/branch}}",
            "tags_url": f"{r}/tags",
            "blobs_url": f"{r}/git/blobs{{/sha}}",
            "git_tags_url": f"{r}/git/tags{{/sha}}",
            "git_refs_url": f"{r}/git/refs{{/sha}}",
            "trees_url": f"{r}/git/trees{{/sha}}",
            "statuses_url": f"{r}/statuses/{{sha}}",
            "languages_url": f"{r}/languages",
            "stargazers_url": f"{r}/stargazers",
            "contributors_url": f"{r}/contributors",
            "subscribers_url": f"{r}/subscribers",
            "subscription_url": f"{r}/subscription",
            "commits_url": f"{r}/commits{{/sha}}",
            "git_commits_url": f"{r}/git/commits{{/sha}}",
            "comments_url": f"{r}/comments{{/number}}",
            "issue_comment_url": f"{r}/issues/comments{{/number}}",
            "contents_url": f"{r}/contents/{{+path}}",
            "compare_url": f"{r}/compare/{{base}}...{{head}}",
            "merges_url": f"{r}/merges",
            "archive_url": f"{r}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{r}/downloads",
            "issues_url": f"{r}/issues{{/number}}",
            "pulls_url": f"{r}/pulls{{/number}}",
            "milestones_url": f"{r}/milestones{{/number}}",
            "notifications_url": f"{r}/notifications{{?since,all,participating}}",
            "labels_url": f"{r}/labels{{/name}}",
            "releases_url": f"{r}/releases{{/id}}",
            "deployments_url": f"{r}/deployments",
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.updated_at),
            "pushed_at": iso(repo.pushed_at or repo.created_at),
            "git_url": f"git://{host}/{fn}.git",
            "ssh_url": f"git@{host.split(':')[0]}:{fn}.git",
            "clone_url": f"{base}/{fn}.git",
            "svn_url": f"{base}/{fn}",
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": repo.has_issues,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_issues,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.private else "public",
            "forks": 0,
            "open_issues": open_issues,
            "watchers": 0,
            "default_branch": repo.default_branch,
        }
        if viewer is not None:
            role = self.role_of(viewer, repo)
            level = ROLE_ORDER.index(role)
            out["permissions"] = {
                "admin": level >= ROLE_ORDER.index("admin"),
                "maintain": level >= ROLE_ORDER.index("maintain"),
                "push": level >= ROLE_ORDER.index("write"),
                "triage": level >= ROLE_ORDER.index("triage"),
                "pull": level >= ROLE_ORDER.index("read"),
            }
        if full:
            out |= {
                "network_count": 0,
                "subscribers_count": 0,
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "merge_commit_title": "MERGE_MESSAGE",
                "merge_commit_message": "PR_TITLE",
            }
            if owner.type == "Organization":
                out["organization"] = self.user_json(owner)
        return out

    def app_json(self, app: App) -> dict[str, Any]:
        return {
            "id": app.id,
            "client_id": app.client_id,
            "slug": app.slug,
            "node_id": node_id("A", app.id),
            "owner": self.user_json(self.user(app.owner)),
            "name": app.name,
            "description": app.description or "",
            "external_url": f"{self.base_url}/{app.owner}",
            "html_url": f"{self.base_url}/apps/{app.slug}",
            "created_at": iso(app.created_at),
            "updated_at": iso(app.created_at),
            "permissions": dict(app.permissions),
            "events": list(app.events),
            "installations_count": sum(1 for i in self.installations.values() if i.app_id == app.id),
        }

    def installation_json(self, inst: Installation) -> dict[str, Any]:
        app = self.apps[inst.app_id]
        account = self.user(inst.account)
        return {
            "id": inst.id,
            "client_id": app.client_id,
            "account": self.user_json(account),
            "repository_selection": inst.repository_selection,
            "access_tokens_url": f"{self.api_url}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api_url}/installation/repositories",
            "html_url": f"{self.base_url}/settings/installations/{inst.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "target_id": account.id,
            "target_type": account.type,
            "permissions": dict(inst.permissions),
            "events": list(inst.events),
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": iso(inst.suspended_at),
        }

    def reactions_rollup(self, comment_id: int | None, url: str) -> dict[str, Any]:
        counts = dict.fromkeys(("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0)
        if comment_id is not None:
            for r in self.reactions.values():
                if r.comment_id == comment_id:
                    counts[r.content] += 1
        return {"url": url, "total_count": sum(counts.values()), **counts}

    def issue_json(self, issue: Issue) -> dict[str, Any]:
        repo = self.repos[issue.repo_id]
        r = f"{self.api_url}/repos/{repo.full_name}"
        url = f"{r}/issues/{issue.number}"
        kind = "pull" if issue.is_pull else "issues"
        out: dict[str, Any] = {
            "url": url,
            "repository_url": r,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.base_url}/{repo.full_name}/{kind}/{issue.number}",
            "id": issue.id,
            "node_id": node_id("PR" if issue.is_pull else "I", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": self.login_json(issue.user),
            "labels": [],
            "state": issue.state,
            "locked": issue.locked,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": sum(
                1 for c in self.comments.values() if c.repo_id == repo.id and c.issue_number == issue.number
            ),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "author_association": self.author_association(issue.user, repo),
            "active_lock_reason": None,
            "body": issue.body,
            "closed_by": None,
            "reactions": self.reactions_rollup(None, f"{url}/reactions"),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": self.app_json(self.apps[issue.app_id]) if issue.app_id else None,
            "state_reason": issue.state_reason,
        }
        if issue.is_pull:
            out["draft"] = issue.draft
            pr = f"{r}/pulls/{issue.number}"
            html = f"{self.base_url}/{repo.full_name}/pull/{issue.number}"
            out["pull_request"] = {
                "url": pr,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": iso(issue.merged_at),
            }
        return out

    def comment_json(self, comment: Comment) -> dict[str, Any]:
        repo = self.repos[comment.repo_id]
        issue = self.issues[(repo.id, comment.issue_number)]
        r = f"{self.api_url}/repos/{repo.full_name}"
        kind = "pull" if issue.is_pull else "issues"
        return {
            "url": f"{r}/issues/comments/{comment.id}",
            "html_url": f"{self.base_url}/{repo.full_name}/{kind}/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{r}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": node_id("IC", comment.id),
            "user": self.login_json(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": self.author_association(comment.user, repo),
            "body": comment.body,
            "reactions": self.reactions_rollup(comment.id, f"{r}/issues/comments/{comment.id}/reactions"),
            "performed_via_github_app": self.app_json(self.apps[comment.app_id]) if comment.app_id else None,
        }

    def reaction_json(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": node_id("REA", reaction.id),
            "user": self.login_json(reaction.user),
            "content": reaction.content,
            "created_at": iso(reaction.created_at),
        }

    def _branch_json(self, repo: Repo, ref: str, owner: str | None = None) -> dict[str, Any]:
        sha = gitrepo.resolve(self.git_dir(repo), f"refs/heads/{ref}") or ""
        owner_login = owner or repo.owner
        return {
            "label": f"{owner_login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.login_json(owner_login),
            "repo": self.repo_json(repo),
        }

    def pull_json(self, issue: Issue, *, full: bool = True) -> dict[str, Any]:
        repo = self.repos[issue.repo_id]
        r = f"{self.api_url}/repos/{repo.full_name}"
        url = f"{r}/pulls/{issue.number}"
        html = f"{self.base_url}/{repo.full_name}/pull/{issue.number}"
        head = self._branch_json(repo, issue.head_ref or "", issue.head_owner)
        base = self._branch_json(repo, issue.base_ref or repo.default_branch)
        out: dict[str, Any] = {
            "url": url,
            "id": issue.pull_id,
            "node_id": node_id("PR", issue.pull_id or 0),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{r}/issues/{issue.number}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{r}/pulls/comments{{/number}}",
            "comments_url": f"{r}/issues/{issue.number}/comments",
            "statuses_url": f"{r}/statuses/{head['sha']}",
            "number": issue.number,
            "state": issue.state,
            "locked": issue.locked,
            "title": issue.title,
            "user": self.login_json(issue.user),
            "body": issue.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "merged_at": iso(issue.merged_at),
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": head,
            "base": base,
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": f"{r}/issues/{issue.number}"},
                "comments": {"href": f"{r}/issues/{issue.number}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{r}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{r}/statuses/{head['sha']}"},
            },
            "author_association": self.author_association(issue.user, repo),
            "auto_merge": None,
            "draft": issue.draft,
        }
        if full:
            gdir = self.git_dir(repo)
            commits = 0
            files: set[str] = set()
            if head["sha"] and base["sha"]:
                commits, _ = gitrepo.ahead_behind(gdir, base["sha"], head["sha"])
                merge_base = gitrepo.git(gdir, "merge-base", base["sha"], head["sha"], check=False).decode().strip()
                if merge_base:
                    diff = gitrepo.git(gdir, "diff", "--name-only", "-z", merge_base, head["sha"]).decode()
                    files = {p for p in diff.split("\0") if p}
            out |= {
                "merged": issue.merged_at is not None,
                "mergeable": True if issue.state == "open" else None,
                "rebaseable": True if issue.state == "open" else None,
                "mergeable_state": "clean" if issue.state == "open" else "unknown",
                "merged_by": None,
                "comments": sum(
                    1 for c in self.comments.values() if c.repo_id == repo.id and c.issue_number == issue.number
                ),
                "review_comments": 0,
                "maintainer_can_modify": issue.maintainer_can_modify,
                "commits": commits,
                "additions": 0,
                "deletions": 0,
                "changed_files": len(files),
            }
        return out

    def check_run_json(self, run: CheckRun) -> dict[str, Any]:
        repo = self.repos[run.repo_id]
        r = f"{self.api_url}/repos/{repo.full_name}"
        pulls = [
            i
            for i in self.issues.values()
            if i.repo_id == repo.id
            and i.is_pull
            and i.state == "open"
            and gitrepo.resolve(self.git_dir(repo), f"refs/heads/{i.head_ref}") == run.head_sha
        ]
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": node_id("CR", run.id),
            "external_id": run.external_id or "",
            "url": f"{r}/check-runs/{run.id}",
            "html_url": f"{self.base_url}/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url or f"{self.base_url}/{repo.full_name}/runs/{run.id}",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at),
            "output": {
                "title": run.output.get("title"),
                "summary": run.output.get("summary"),
                "text": run.output.get("text"),
                "annotations_count": len(run.output.get("annotations") or []),
                "annotations_url": f"{r}/check-runs/{run.id}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": run.check_suite_id},
            "app": self.app_json(self.apps[run.app_id]),
            "pull_requests": [
                {
                    "url": f"{r}/pulls/{p.number}",
                    "id": p.pull_id,
                    "number": p.number,
                    "head": {
                        "ref": p.head_ref,
                        "sha": run.head_sha,
                        "repo": {"id": repo.id, "url": r, "name": repo.name},
                    },
                    "base": {
                        "ref": p.base_ref,
                        "sha": gitrepo.resolve(self.git_dir(repo), f"refs/heads/{p.base_ref}") or "",
                        "repo": {"id": repo.id, "url": r, "name": repo.name},
                    },
                }
                for p in pulls
            ],
        }

    def status_json(self, status: CommitStatus) -> dict[str, Any]:
        repo = self.repos[status.repo_id]
        return {
            "url": f"{self.api_url}/repos/{repo.full_name}/statuses/{status.sha}",
            "avatar_url": None,
            "id": status.id,
            "node_id": node_id("SC", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.updated_at),
            "creator": self.login_json(status.creator),
        }
