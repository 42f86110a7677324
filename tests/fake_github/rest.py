"""REST endpoints of the fake GitHub: authentication, access checks and handlers with GitHub's shapes and errors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt

from . import gitrepo
from .model import (
    ACTIONS_ONLY_STATUSES,
    CHECK_CONCLUSIONS,
    CHECK_STATUSES,
    PERMISSION_LEVEL,
    REACTIONS,
    ROLE_ORDER,
    ROLE_TO_PERMISSION,
    ApiError,
    CheckRun,
    Comment,
    CommitStatus,
    Identity,
    Issue,
    Reaction,
    Repo,
    Token,
    iso,
    not_found,
    validation_failed,
)
from .state import FakeState, _token

DOCS = "https://docs.github.com/rest"
JWT_NOT_DECODED = "A JSON web token could not be decoded"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    state: FakeState
    method: str
    path: str  # relative to the API root
    endpoint: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any
    identity: Identity
    token: Token | None

    # -------------------------------------------------------------- access
    def repo(self, perms: tuple[str, ...], level: str = "read", *, role: str = "read", doc: str = DOCS) -> Repo:
        """The path's repository if the caller may use it with one of `perms` at `level` (GitHub's 401/403/404)."""
        st = self.state
        repo = st.find_repo(self.params["owner"], self.params["repo"])
        ident, token = self.identity, self.token
        if repo is None:
            raise not_found(doc)
        if ident.kind == "anonymous":
            if repo.private:
                raise not_found(doc)
            if level != "read":
                raise ApiError(401, "Requires authentication", doc=doc)
            return repo
        if ident.kind == "app":
            raise ApiError(403, "Resource not accessible by integration", doc=doc)
        assert token is not None
        if not st.token_reaches(token, repo):
            raise not_found(doc)
        need = PERMISSION_LEVEL[level]
        if token.kind != "classic" and not any(
            PERMISSION_LEVEL.get(token.permissions.get(p, "none"), 0) >= need for p in perms
        ):
            who = "integration" if token.kind == "installation" else "personal access token"
            accepted = "; ".join(f"{p}={level}" for p in perms)
            raise ApiError(
                403, f"Resource not accessible by {who}", doc=doc, headers={"x-accepted-github-permissions": accepted}
            )
        if token.kind != "installation" and ROLE_ORDER.index(st.role_of(token.login, repo)) < ROLE_ORDER.index(role):
            if token.kind == "classic":
                raise ApiError(403, "Must have push access to repository", doc=doc)
            raise ApiError(403, "Resource not accessible by personal access token", doc=doc)
        return repo

    def actor(self) -> str:
        assert self.identity.login is not None
        return self.identity.login

    def app_id(self) -> int | None:
        return self.identity.app_id if self.identity.kind == "installation" else None

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise not_found() from None

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "Problems parsing JSON", doc=DOCS)
        return self.body

    # -------------------------------------------------------------- pagination
    def page(self, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` by per_page (default 30, max 100) and page, with GitHub's Link header."""
        try:
            per_page = max(1, min(100, int(self.query.get("per_page", "30"))))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(self.query.get("page", "1")))
        except ValueError:
            page = 1
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def url(p: int) -> str:
            q = {k: v for k, v in self.query.items() if k not in ("page", "per_page")}
            q |= {"per_page": str(per_page), "page": str(p)}
            return f"<{self.state.api_url}{self.path}?{urlencode(q)}>"

        if page > 1:
            links += [f'{url(page - 1)}; rel="prev"']
        if page < last:
            links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
        if page > 1:
            links += [f'{url(1)}; rel="first"']
        return chunk, ({"link": ", ".join(links)} if links else {})


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    auth: str  # "any" (anonymous allowed), "token" (user or installation), "app" (JWT), "user", "installation"

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.template}"


ROUTES: list[Route] = []


def route(method: str, template: str, auth: str = "any") -> Callable[[Handler], Handler]:
    pattern = "^" + re.sub(
        r"\{(\w+)\}",
        lambda m: f"(?P<{m.group(1)}>.+)" if m.group(1) in ("path", "ref") else f"(?P<{m.group(1)}>[^/]+)",
        template,
    )
    regex = re.compile(pattern + "$")

    def deco(fn: Handler) -> Handler:
        ROUTES.append(Route(method, template, regex, fn, auth))
        return fn

    return deco


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, whether the path exists under another method)."""
    other = False
    for r in ROUTES:
        m = r.regex.match(path)
        if m:
            if r.method == method or (method == "HEAD" and r.method == "GET"):
                return r, m.groupdict(), False
            other = True
    return None, {}, other


# ====================================================================== authentication
def authenticate(state: FakeState, header: str | None) -> tuple[Identity, Token | None]:
    """Who the Authorization header names; raises 401 Bad credentials (or a JWT error) like GitHub."""
    if not header:
        return Identity("anonymous"), None
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "Bad credentials", doc=DOCS) from None
        value = password if password and password != "x-oauth-basic" else user
    elif scheme not in ("bearer", "token"):
        raise ApiError(401, "Bad credentials", doc=DOCS)
    if value.count(".") == 2 and value.startswith("eyJ"):
        return verify_jwt(state, value), None
    with state.lock:
        token = state.tokens.get(value)
        if token is None or token.expired(state.now()):
            raise ApiError(401, "Bad credentials", doc=DOCS)
        if token.kind == "installation":
            inst = state.installations.get(token.installation_id or 0)
            app_id = inst.app_id if inst else None
            return Identity("installation", token.login, value, app_id, token.installation_id), token
        return Identity("user", token.login, value), token


def verify_jwt(state: FakeState, value: str) -> Identity:
    """An App's JWT: RS256 signed by the app's key, iss = app id (or client id), iat/exp within GitHub's limits."""
    try:
        header = jwt.get_unverified_header(value)
        claims = jwt.decode(value, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ApiError(401, JWT_NOT_DECODED, doc=DOCS) from None
    if header.get("alg") != "RS256":
        raise ApiError(401, JWT_NOT_DECODED, doc=DOCS)
    iss = str(claims.get("iss", ""))
    with state.lock:
        app = next((a for a in state.apps.values() if iss in (str(a.id), a.client_id)), None)
    if app is None:
        raise ApiError(401, JWT_NOT_DECODED, doc=DOCS)
    try:
        claims = jwt.decode(
            value,
            app.public_key_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise ApiError(401, JWT_NOT_DECODED, doc=DOCS) from None
    now = state.now()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or iat > now + 60:
        raise ApiError(
            401, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        )
    if not isinstance(exp, int | float) or exp <= now:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
            "the assertion expires",
        )
    if exp > now + 600:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    return Identity("app", app.slug, value, app.id)


# ====================================================================== app endpoints
@route("GET", "/app", auth="app")
def get_app(ctx: Ctx) -> Reply:
    return Reply(200, ctx.state.app_json(ctx.state.apps[ctx.identity.app_id or 0]))


@route("GET", "/app/installations", auth="app")
def list_installations(ctx: Ctx) -> Reply:
    st = ctx.state
    items = [st.installation_json(i) for i in st.installations.values() if i.app_id == ctx.identity.app_id]
    chunk, links = ctx.page(items)
    return Reply(200, chunk, links)


@route("GET", "/app/installations/{installation_id}", auth="app")
def get_installation(ctx: Ctx) -> Reply:
    inst = ctx.state.installations.get(ctx.int_param("installation_id"))
    if inst is None or inst.app_id != ctx.identity.app_id:
        raise not_found(f"{DOCS}/apps/apps#get-an-installation-for-the-authenticated-app")
    return Reply(200, ctx.state.installation_json(inst))


@route("GET", "/repos/{owner}/{repo}/installation", auth="app")
def get_repo_installation(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/apps/apps#get-a-repository-installation-for-the-authenticated-app"
    repo = st.find_repo(ctx.params["owner"], ctx.params["repo"])
    if repo is None:
        raise not_found(doc)
    for inst in st.installations.values():
        if inst.app_id == ctx.identity.app_id and repo.id in st.installation_repo_ids(inst):
            return Reply(200, st.installation_json(inst))
    raise not_found(doc)


@route("POST", "/app/installations/{installation_id}/access_tokens", auth="app")
def create_installation_token(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/apps/apps#create-an-installation-access-token-for-an-app"
    inst = st.installations.get(ctx.int_param("installation_id"))
    if inst is None or inst.app_id != ctx.identity.app_id:
        raise not_found(doc)
    if inst.suspended_at is not None:
        raise ApiError(403, "This installation has been suspended", doc=doc)
    body = ctx.json_object()
    reachable = st.installation_repo_ids(inst)
    repo_ids: list[int] | None = None
    names = body.get("repositories")
    ids = body.get("repository_ids")
    if names is not None or ids is not None:
        repo_ids = []
        for name in names or []:
            repo = st.find_repo(inst.account, str(name))
            if repo is None or repo.id not in reachable:
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible to the parent "
                    "installation.",
                    doc=doc,
                )
            repo_ids.append(repo.id)
        for rid in ids or []:
            if rid not in reachable:
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible to the parent "
                    "installation.",
                    doc=doc,
                )
            repo_ids.append(int(rid))
    perms = dict(inst.permissions)
    asked = body.get("permissions")
    if asked is not None:
        if not isinstance(asked, dict):
            raise validation_failed(doc, {"resource": "Installation", "field": "permissions", "code": "invalid"})
        for name, level in asked.items():
            granted = inst.permissions.get(name, "none")
            if PERMISSION_LEVEL.get(str(level), 9) > PERMISSION_LEVEL.get(granted, 0):
                raise ApiError(422, "The permissions requested are not granted to this installation.", doc=doc)
        perms = {k: str(v) for k, v in asked.items()}
        perms.setdefault("metadata", "read")
    value = _token("ghs_", 36)
    expires = st.now() + st.installation_token_lifetime_s
    app = st.apps[inst.app_id]
    with st.lock:
        st.tokens[value] = Token(value, "installation", app.bot_login, perms, repo_ids, expires, inst.id)
    out: dict[str, Any] = {
        "token": value,
        "expires_at": iso(expires),
        "permissions": perms,
        "repository_selection": "selected" if repo_ids is not None else inst.repository_selection,
    }
    if repo_ids is not None:
        out["repositories"] = [st.repo_json(st.repos[i]) for i in repo_ids]
    return Reply(201, out)


@route("GET", "/installation/repositories", auth="installation")
def installation_repositories(ctx: Ctx) -> Reply:
    st = ctx.state
    assert ctx.token is not None
    repos = [st.repo_json(r) for r in st.repos.values() if st.token_reaches(ctx.token, r)]
    chunk, links = ctx.page(repos)
    inst = st.installations[ctx.identity.installation_id or 0]
    return Reply(
        200,
        {"total_count": len(repos), "repository_selection": inst.repository_selection, "repositories": chunk},
        links,
    )


# ====================================================================== users
@route("GET", "/user", auth="token")
def get_authenticated_user(ctx: Ctx) -> Reply:
    if ctx.identity.kind != "user":
        raise ApiError(
            403, "Resource not accessible by integration", doc=f"{DOCS}/users/users#get-the-authenticated-user"
        )
    user = ctx.state.user(ctx.actor())
    headers = {}
    if ctx.token is not None and ctx.token.kind == "classic":
        headers["x-oauth-scopes"] = ", ".join(ctx.token.scopes)
    return Reply(200, ctx.state.private_user_json(user), headers)


@route("GET", "/users/{username}")
def get_user(ctx: Ctx) -> Reply:
    user = ctx.state.users.get(ctx.params["username"].lower())
    if user is None:
        raise not_found(f"{DOCS}/users/users#get-a-user")
    out = ctx.state.private_user_json(user)
    for key in ("private_gists", "total_private_repos", "owned_private_repos", "disk_usage", "collaborators"):
        out.pop(key)
    out.pop("two_factor_authentication")
    out.pop("plan")
    out.pop("notification_email")
    return Reply(200, out)


@route("GET", "/rate_limit")
def rate_limit(ctx: Ctx) -> Reply:
    limit, remaining, reset, used = ctx.state.rate_status(ctx.identity)
    core = {"limit": limit, "used": used, "remaining": remaining, "reset": reset}
    return Reply(200, {"resources": {"core": core}, "rate": core})


# ====================================================================== repositories
@route("GET", "/repos/{owner}/{repo}")
def get_repo(ctx: Ctx) -> Reply:
    repo = ctx.repo(("metadata",), doc=f"{DOCS}/repos/repos#get-a-repository")
    viewer = ctx.identity.login if ctx.identity.kind == "user" else None
    out = ctx.state.repo_json(repo, full=True, viewer=viewer)
    if ctx.identity.kind == "installation":
        out["permissions"] = {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}
    return Reply(200, out)


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def collaborator_permission(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/collaborators/collaborators#get-repository-permissions-for-a-user"
    repo = ctx.repo(("metadata",), doc=doc)
    user = st.users.get(ctx.params["username"].lower())
    if user is None or user.type == "Organization":
        raise ApiError(404, f"{ctx.params['username']} is not a user", doc=doc)
    role = st.role_of(user.login, repo)
    permission = ROLE_TO_PERMISSION[role]
    level = ROLE_ORDER.index(role)
    collab = {
        **st.user_json(user),
        "permissions": {
            "admin": level >= ROLE_ORDER.index("admin"),
            "maintain": level >= ROLE_ORDER.index("maintain"),
            "push": level >= ROLE_ORDER.index("write"),
            "triage": level >= ROLE_ORDER.index("triage"),
            "pull": level >= ROLE_ORDER.index("read"),
        },
        "role_name": role,
    }
    return Reply(200, {"permission": permission, "role_name": role, "user": collab})


def _ref_or_default(ctx: Ctx, repo: Repo) -> tuple[str, str]:
    ref = ctx.query.get("ref") or repo.default_branch
    sha = gitrepo.resolve(ctx.state.git_dir(repo), ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}", doc=f"{DOCS}/repos/contents#get-repository-content")
    return ref, sha


def _content_entry(ctx: Ctx, repo: Repo, ref: str, e: gitrepo.TreeEntry) -> dict[str, Any]:
    st = ctx.state
    r = f"{st.api_url}/repos/{repo.full_name}"
    kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[e.type]
    if e.mode == "120000":
        kind = "symlink"
    self_url = f"{r}/contents/{e.path}?ref={ref}"
    git_url = f"{r}/git/{'trees' if e.type == 'tree' else 'blobs'}/{e.sha}"
    html_url = f"{st.base_url}/{repo.full_name}/{'tree' if e.type == 'tree' else 'blob'}/{ref}/{e.path}"
    return {
        "type": kind,
        "size": e.size or 0,
        "name": e.path.rsplit("/", 1)[-1],
        "path": e.path,
        "sha": e.sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": f"{st.base_url}/{repo.full_name}/raw/{ref}/{e.path}" if e.type == "blob" else None,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


def _b64_lines(data: bytes) -> str:
    """Base64 in 60-character lines, each ending in a newline, as GitHub sends file content."""
    raw = base64.b64encode(data).decode()
    return "".join(raw[i : i + 60] + "\n" for i in range(0, len(raw), 60))


@route("GET", "/repos/{owner}/{repo}/contents")
@route("GET", "/repos/{owner}/{repo}/contents/{path}")
def get_content(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/repos/contents#get-repository-content"
    repo = ctx.repo(("contents",), doc=doc)
    gdir = st.git_dir(repo)
    if not gitrepo.branches(gdir):
        raise ApiError(404, "This repository is empty.", doc=doc)
    ref, sha = _ref_or_default(ctx, repo)
    path = ctx.params.get("path", "").strip("/")
    if ".." in path.split("/"):
        raise not_found(doc)
    if path == "" or gitrepo.is_dir(gdir, sha, path):
        entries = [_content_entry(ctx, repo, ref, e) for e in gitrepo.ls_tree(gdir, sha, path)]
        return Reply(200, sorted(entries, key=lambda e: (e["type"] != "dir", e["name"])))
    e = gitrepo.entry(gdir, sha, path)
    if e is None or e.type != "blob":
        raise not_found(doc)
    data = gitrepo.read_blob(gdir, e.sha)
    accept = ctx.headers.get("accept", "")
    if "vnd.github.raw" in accept or "vnd.github.v3.raw" in accept:
        return Reply(200, data, {"content-type": "application/vnd.github.raw; charset=utf-8"})
    out = _content_entry(ctx, repo, ref, e)
    out |= {"encoding": "base64", "content": _b64_lines(data)}
    return Reply(200, out)


def _branch_json(ctx: Ctx, repo: Repo, name: str, sha: str, *, full: bool) -> dict[str, Any]:
    st = ctx.state
    r = f"{st.api_url}/repos/{repo.full_name}"
    out: dict[str, Any] = {
        "name": name,
        "commit": {"sha": sha, "url": f"{r}/commits/{sha}"},
        "protected": False,
    }
    if full:
        out["commit"] = _commit_json(ctx, repo, sha)
        out |= {
            "_links": {"self": f"{r}/branches/{name}", "html": f"{st.base_url}/{repo.full_name}/tree/{name}"},
            "protection": {
                "enabled": False,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            },
            "protection_url": f"{r}/branches/{name}/protection",
        }
    return out


def _commit_json(ctx: Ctx, repo: Repo, sha: str, *, files: bool = False) -> dict[str, Any]:
    st = ctx.state
    gdir = st.git_dir(repo)
    info = gitrepo.commit_info(gdir, sha)
    r = f"{st.api_url}/repos/{repo.full_name}"

    def person(name: str, email: str) -> dict[str, Any] | None:
        for u in st.users.values():
            if u.email and u.email == email or email.split("@")[0].split("+")[-1] == u.login:
                return st.user_json(u)
        return None

    out: dict[str, Any] = {
        "sha": sha,
        "node_id": f"C_{sha[:20]}",
        "url": f"{r}/commits/{sha}",
        "html_url": f"{st.base_url}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{r}/commits/{sha}/comments",
        "commit": {
            "url": f"{r}/git/commits/{sha}",
            "author": {"name": info.author_name, "email": info.author_email, "date": info.author_date},
            "committer": {"name": info.committer_name, "email": info.committer_email, "date": info.committer_date},
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{r}/git/trees/{info.tree}"},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        },
        "author": person(info.author_name, info.author_email),
        "committer": person(info.committer_name, info.committer_email),
        "parents": [
            {"sha": p, "url": f"{r}/commits/{p}", "html_url": f"{st.base_url}/{repo.full_name}/commit/{p}"}
            for p in info.parents
        ],
    }
    if files:
        changed = gitrepo.changed_files(gdir, sha)
        status = {"added": "added", "modified": "modified", "removed": "removed"}
        out["files"] = [
            {
                "sha": None,
                "filename": path,
                "status": status[kind],
                "additions": 0,
                "deletions": 0,
                "changes": 0,
                "blob_url": f"{st.base_url}/{repo.full_name}/blob/{sha}/{path}",
                "raw_url": f"{st.base_url}/{repo.full_name}/raw/{sha}/{path}",
                "contents_url": f"{r}/contents/{path}?ref={sha}",
            }
            for kind, paths in changed.items()
            for path in paths
        ]
        out["stats"] = {"total": 0, "additions": 0, "deletions": 0}
    return out


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(ctx: Ctx) -> Reply:
    repo = ctx.repo(("contents",), doc=f"{DOCS}/branches/branches#list-branches")
    items = [
        _branch_json(ctx, repo, n, s, full=False) for n, s in sorted(gitrepo.branches(ctx.state.git_dir(repo)).items())
    ]
    chunk, links = ctx.page(items)
    return Reply(200, chunk, links)


@route("GET", "/repos/{owner}/{repo}/branches/{ref}")
def get_branch(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/branches/branches#get-a-branch"
    repo = ctx.repo(("contents",), doc=doc)
    name = ctx.params["ref"]
    sha = gitrepo.resolve(ctx.state.git_dir(repo), f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found", doc=doc)
    return Reply(200, _branch_json(ctx, repo, name, sha, full=True))


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref}")
def get_git_ref(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/git/refs#get-a-reference"
    repo = ctx.repo(("contents",), doc=doc)
    ref = "refs/" + ctx.params["ref"]
    sha = gitrepo.refs(ctx.state.git_dir(repo)).get(ref)
    if sha is None:
        raise not_found(doc)
    r = f"{ctx.state.api_url}/repos/{repo.full_name}"
    return Reply(
        200,
        {
            "ref": ref,
            "node_id": f"REF_{sha[:16]}",
            "url": f"{r}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{r}/git/commits/{sha}"},
        },
    )


def _resolve_commit(ctx: Ctx, repo: Repo, doc: str) -> str:
    ref = ctx.params["ref"]
    sha = gitrepo.resolve(ctx.state.git_dir(repo), ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}", doc=doc)
    return sha


# ====================================================================== check runs and statuses (before /commits/{ref})
def _validate_check_fields(body: dict[str, Any], doc: str, *, creating: bool) -> None:
    status = body.get("status")
    if status is not None and status not in CHECK_STATUSES:
        if status in ACTIONS_ONLY_STATUSES:
            raise ApiError(422, f"Only GitHub Actions can set a status of {status}.", doc=doc)
        raise validation_failed(doc, {"resource": "CheckRun", "field": "status", "code": "invalid"})
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
        raise validation_failed(doc, {"resource": "CheckRun", "field": "conclusion", "code": "invalid"})
    if status == "completed" and not conclusion and creating:
        raise validation_failed(doc, {"resource": "CheckRun", "field": "conclusion", "code": "missing_field"})
    if conclusion == "action_required" and not body.get("details_url"):
        raise validation_failed(doc, {"resource": "CheckRun", "field": "details_url", "code": "missing_field"})
    output = body.get("output")
    if output is not None:
        if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
            raise validation_failed(doc, {"resource": "CheckRun", "field": "output", "code": "missing_field"})
        for key, limit in (("summary", 65535), ("text", 65535)):
            if len(str(output.get(key) or "")) > limit:
                raise validation_failed(
                    doc, {"resource": "CheckRun", "field": f"output.{key}", "code": "custom", "message": "too long"}
                )


def _require_app_for_checks(ctx: Ctx, doc: str) -> None:
    if ctx.identity.kind != "installation":
        raise ApiError(403, "You must authenticate via a GitHub App.", doc=doc)


@route("POST", "/repos/{owner}/{repo}/check-runs", auth="token")
def create_check_run(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/checks/runs#create-a-check-run"
    _require_app_for_checks(ctx, doc)
    repo = ctx.repo(("checks",), "write", doc=doc)
    body = ctx.json_object()
    for name in ("name", "head_sha"):
        if not body.get(name):
            raise validation_failed(doc, {"resource": "CheckRun", "field": name, "code": "missing_field"})
    head = str(body["head_sha"])
    sha = gitrepo.resolve(st.git_dir(repo), head) if re.fullmatch(r"[0-9a-f]{40}", head) else None
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {head}", doc=doc)
    _validate_check_fields(body, doc, creating=True)
    status = body.get("status") or "queued"
    conclusion = body.get("conclusion")
    if conclusion:
        status = "completed"
    app_id = ctx.app_id() or 0
    now = st.now()
    with st.lock:
        suite = st.check_suites.setdefault((repo.id, sha, app_id), st.next_id("suite", 7000000))
        run = CheckRun(
            id=st.next_id("check_run", 9000000),
            repo_id=repo.id,
            app_id=app_id,
            name=str(body["name"]),
            head_sha=sha,
            status=status,
            conclusion=conclusion,
            check_suite_id=suite,
            external_id=body.get("external_id"),
            details_url=body.get("details_url"),
            started_at=now if status != "queued" else None,
            completed_at=now if status == "completed" else None,
            output=dict(body.get("output") or {}),
            actions=list(body.get("actions") or []),
        )
        if body.get("started_at"):
            run.started_at = now
        st.check_runs_by_id[run.id] = run
        return Reply(201, st.check_run_json(run))


def _check_run(ctx: Ctx, repo: Repo, doc: str) -> CheckRun:
    run = ctx.state.check_runs_by_id.get(ctx.int_param("check_run_id"))
    if run is None or run.repo_id != repo.id:
        raise not_found(doc)
    return run


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def get_check_run(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/checks/runs#get-a-check-run"
    repo = ctx.repo(("checks",), doc=doc)
    return Reply(200, ctx.state.check_run_json(_check_run(ctx, repo, doc)))


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", auth="token")
def update_check_run(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/checks/runs#update-a-check-run"
    _require_app_for_checks(ctx, doc)
    repo = ctx.repo(("checks",), "write", doc=doc)
    run = _check_run(ctx, repo, doc)
    if run.app_id != ctx.app_id():
        raise ApiError(403, f"Invalid app_id `{ctx.app_id() or 0}` - check run can only be modified by its creator.")
    body = ctx.json_object()
    _validate_check_fields(body, doc, creating=False)
    status = body.get("status")
    conclusion = body.get("conclusion")
    if status == "completed" and not conclusion and not run.conclusion:
        raise validation_failed(doc, {"resource": "CheckRun", "field": "conclusion", "code": "missing_field"})
    now = st.now()
    with st.lock:
        if "name" in body:
            run.name = str(body["name"])
        for key in ("external_id", "details_url"):
            if key in body:
                setattr(run, key, body[key])
        if "output" in body:
            run.output = dict(body["output"] or {})
        if "actions" in body:
            run.actions = list(body["actions"] or [])
        if conclusion:
            run.conclusion = conclusion
            run.status = "completed"
        elif status:
            run.status = status
        if run.status != "queued" and run.started_at is None:
            run.started_at = now
        if run.status == "completed" and run.completed_at is None:
            run.completed_at = now
        return Reply(200, st.check_run_json(run))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs_for_ref(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/checks/runs#list-check-runs-for-a-git-reference"
    repo = ctx.repo(("checks",), doc=doc)
    sha = _resolve_commit(ctx, repo, doc)
    runs = [r for r in st.check_runs_by_id.values() if r.repo_id == repo.id and r.head_sha == sha]
    if name := ctx.query.get("check_name"):
        runs = [r for r in runs if r.name == name]
    if status := ctx.query.get("status"):
        runs = [r for r in runs if r.status == status]
    if ctx.query.get("filter", "latest") == "latest":
        latest: dict[tuple[int, str], CheckRun] = {}
        for r in sorted(runs, key=lambda r: r.id):
            latest[(r.app_id, r.name)] = r
        runs = list(latest.values())
    runs.sort(key=lambda r: -r.id)
    chunk, links = ctx.page([st.check_run_json(r) for r in runs])
    return Reply(200, {"total_count": len(runs), "check_runs": chunk}, links)


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}", auth="token")
def create_commit_status(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/commits/statuses#create-a-commit-status"
    repo = ctx.repo(("statuses",), "write", role="write", doc=doc)
    body = ctx.json_object()
    state = body.get("state")
    if state not in ("error", "failure", "pending", "success"):
        raise validation_failed(doc, {"resource": "Status", "field": "state", "code": "custom"})
    sha = gitrepo.resolve(st.git_dir(repo), ctx.params["sha"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ctx.params['sha']}", doc=doc)
    desc = body.get("description")
    if desc is not None and len(str(desc)) > 140:
        raise validation_failed(doc, {"resource": "Status", "field": "description", "code": "custom"})
    with st.lock:
        status = CommitStatus(
            st.next_id("status", 8000000),
            repo.id,
            sha,
            str(state),
            str(body.get("context") or "default"),
            ctx.actor(),
            body.get("target_url"),
            desc,
        )
        st.statuses_by_id[status.id] = status
        return Reply(201, st.status_json(status))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses")
def list_commit_statuses(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/commits/statuses#list-commit-statuses-for-a-reference"
    repo = ctx.repo(("statuses",), doc=doc)
    sha = _resolve_commit(ctx, repo, doc)
    items = sorted(
        (s for s in st.statuses_by_id.values() if s.repo_id == repo.id and s.sha == sha), key=lambda s: -s.id
    )
    chunk, links = ctx.page([st.status_json(s) for s in items])
    return Reply(200, chunk, links)


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/status")
def combined_status(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/commits/statuses#get-the-combined-status-for-a-specific-reference"
    repo = ctx.repo(("statuses",), doc=doc)
    sha = _resolve_commit(ctx, repo, doc)
    latest: dict[str, CommitStatus] = {}
    for s in sorted(st.statuses_by_id.values(), key=lambda s: s.id):
        if s.repo_id == repo.id and s.sha == sha:
            latest[s.context] = s
    states = {s.state for s in latest.values()}
    combined = (
        "failure" if states & {"error", "failure"} else ("pending" if "pending" in states or not states else "success")
    )
    r = f"{st.api_url}/repos/{repo.full_name}"
    return Reply(
        200,
        {
            "state": combined,
            "statuses": [st.status_json(s) for s in latest.values()],
            "sha": sha,
            "total_count": len(latest),
            "repository": st.repo_json(repo),
            "commit_url": f"{r}/commits/{sha}",
            "url": f"{r}/commits/{sha}/status",
        },
    )


@route("GET", "/repos/{owner}/{repo}/commits/{ref}")
def get_commit(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/commits/commits#get-a-commit"
    repo = ctx.repo(("contents",), doc=doc)
    sha = _resolve_commit(ctx, repo, doc)
    return Reply(200, _commit_json(ctx, repo, sha, files=True))


# ====================================================================== issues and comments
def _issue(ctx: Ctx, repo: Repo, doc: str) -> Issue:
    issue = ctx.state.issues.get((repo.id, ctx.int_param("issue_number")))
    if issue is None:
        raise not_found(doc)
    return issue


@route("GET", "/repos/{owner}/{repo}/issues")
def list_issues(ctx: Ctx) -> Reply:
    st = ctx.state
    repo = ctx.repo(("issues",), doc=f"{DOCS}/issues/issues#list-repository-issues")
    state = ctx.query.get("state", "open")
    items = [i for i in st.issues.values() if i.repo_id == repo.id and (state == "all" or i.state == state)]
    items.sort(key=lambda i: -i.number)
    chunk, links = ctx.page([st.issue_json(i) for i in items])
    return Reply(200, chunk, links)


@route("POST", "/repos/{owner}/{repo}/issues", auth="token")
def create_issue(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/issues/issues#create-an-issue"
    repo = ctx.repo(("issues",), "write", doc=doc)
    body = ctx.json_object()
    if not body.get("title"):
        raise validation_failed(doc, {"resource": "Issue", "field": "title", "code": "missing_field"})
    with st.lock:
        issue = Issue(
            st.next_id("issue", 2000000),
            repo.id,
            st._next_number(repo),
            str(body["title"]),
            body.get("body"),
            ctx.actor(),
        )
        issue.app_id = ctx.app_id()
        st.issues[(repo.id, issue.number)] = issue
        return Reply(201, st.issue_json(issue))


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/issues/comments#get-an-issue-comment"
    repo = ctx.repo(("issues", "pull_requests"), doc=doc)
    return Reply(200, ctx.state.comment_json(_comment(ctx, repo, doc)))


def _comment(ctx: Ctx, repo: Repo, doc: str) -> Comment:
    comment = ctx.state.comments.get(ctx.int_param("comment_id"))
    if comment is None or comment.repo_id != repo.id:
        raise not_found(doc)
    return comment


def _check_body(body: dict[str, Any], doc: str, max_len: int) -> str:
    text = body.get("body")
    if text is None or not isinstance(text, str):
        raise validation_failed(doc, {"resource": "IssueComment", "field": "body", "code": "missing_field"})
    if not text.strip():
        raise validation_failed(doc, {"resource": "IssueComment", "field": "body", "code": "missing_field"})
    if len(text) > max_len:
        raise validation_failed(
            doc,
            {
                "resource": "IssueComment",
                "field": "body",
                "code": "custom",
                "message": f"body is too long (maximum is {max_len} characters)",
            },
        )
    return text


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", auth="token")
def update_comment(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/issues/comments#update-an-issue-comment"
    repo = ctx.repo(("issues", "pull_requests"), "write", doc=doc)
    comment = _comment(ctx, repo, doc)
    if comment.user.lower() != ctx.actor().lower() and (
        ctx.identity.kind == "installation"
        or ROLE_ORDER.index(st.role_of(ctx.actor(), repo)) < ROLE_ORDER.index("write")
    ):
        raise ApiError(403, "You must have write access to edit this comment", doc=doc)
    text = _check_body(ctx.json_object(), doc, st.max_comment_length)
    with st.lock:
        previous = comment.body
        comment.body = text
        comment.updated_at = st.now()
        out = st.comment_json(comment)
    _emit_comment(ctx, repo, comment.issue_number, out, "edited", previous)
    return Reply(200, out)


def _emit_comment(
    ctx: Ctx, repo: Repo, number: int, comment: dict[str, Any], action: str, previous: str | None = None
) -> None:
    from .webhooks import issue_comment_payload

    ctx.state.emit(
        "issue_comment",
        lambda installation_id: issue_comment_payload(
            ctx.state,
            repo.full_name,
            number,
            comment,
            action=action,
            installation_id=installation_id,
            sender=ctx.actor(),
            previous_body=previous,
        ),
    )


@route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", auth="token")
def delete_comment(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/issues/comments#delete-an-issue-comment"
    repo = ctx.repo(("issues", "pull_requests"), "write", doc=doc)
    comment = _comment(ctx, repo, doc)
    if comment.user.lower() != ctx.actor().lower():
        raise ApiError(403, "You must have write access to delete this comment", doc=doc)
    with st.lock:
        st.comments.pop(comment.id, None)
    return Reply(204, None)


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def list_reactions(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/reactions/reactions#list-reactions-for-an-issue-comment"
    repo = ctx.repo(("issues", "pull_requests"), doc=doc)
    comment = _comment(ctx, repo, doc)
    items = [st.reaction_json(r) for r in st.reactions.values() if r.comment_id == comment.id]
    chunk, links = ctx.page(items)
    return Reply(200, chunk, links)


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", auth="token")
def create_reaction(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/reactions/reactions#create-reaction-for-an-issue-comment"
    repo = ctx.repo(("issues", "pull_requests"), "write", doc=doc)
    comment = _comment(ctx, repo, doc)
    content = ctx.json_object().get("content")
    if content not in REACTIONS:
        raise validation_failed(doc, {"resource": "Reaction", "field": "content", "code": "invalid"})
    with st.lock:
        for r in st.reactions.values():
            if r.comment_id == comment.id and r.user.lower() == ctx.actor().lower() and r.content == content:
                return Reply(200, st.reaction_json(r))
        reaction = Reaction(st.next_id("reaction", 100000000), comment.id, ctx.actor(), str(content))
        st.reactions[reaction.id] = reaction
        return Reply(201, st.reaction_json(reaction))


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}")
def get_issue(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/issues/issues#get-an-issue"
    repo = ctx.repo(("issues", "pull_requests"), doc=doc)
    return Reply(200, ctx.state.issue_json(_issue(ctx, repo, doc)))


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_comments(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/issues/comments#list-issue-comments"
    repo = ctx.repo(("issues", "pull_requests"), doc=doc)
    issue = _issue(ctx, repo, doc)
    items = sorted(
        (c for c in st.comments.values() if c.repo_id == repo.id and c.issue_number == issue.number),
        key=lambda c: c.id,
    )
    if since := ctx.query.get("since"):
        items = [c for c in items if (iso(c.updated_at) or "") >= since]
    chunk, links = ctx.page([st.comment_json(c) for c in items])
    return Reply(200, chunk, links)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", auth="token")
def create_comment(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/issues/comments#create-an-issue-comment"
    repo = ctx.repo(("issues", "pull_requests"), "write", doc=doc)
    issue = _issue(ctx, repo, doc)
    if issue.locked and ROLE_ORDER.index(st.role_of(ctx.actor(), repo)) < ROLE_ORDER.index("write"):
        raise ApiError(403, "Unable to create comment because issue is locked.", doc=doc)
    text = _check_body(ctx.json_object(), doc, st.max_comment_length)
    with st.lock:
        comment = Comment(st.next_id("comment", 3000000), repo.id, issue.number, text, ctx.actor(), app_id=ctx.app_id())
        st.comments[comment.id] = comment
        issue.updated_at = st.now()
        out = st.comment_json(comment)
    _emit_comment(ctx, repo, issue.number, out, "created")
    return Reply(201, out, {"location": out["url"]})


# ====================================================================== pulls
def _head_ref(ctx: Ctx, repo: Repo, head: str) -> tuple[str, str]:
    """(owner, branch) of a `head` given as "branch" or "owner:branch"."""
    if ":" in head:
        owner, branch = head.split(":", 1)
    else:
        owner, branch = repo.owner, head
    return owner, branch


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(ctx: Ctx) -> Reply:
    st = ctx.state
    repo = ctx.repo(("pull_requests",), doc=f"{DOCS}/pulls/pulls#list-pull-requests")
    state = ctx.query.get("state", "open")
    items = [i for i in st.issues.values() if i.repo_id == repo.id and i.is_pull]
    if state != "all":
        items = [i for i in items if i.state == state]
    if head := ctx.query.get("head"):
        owner, branch = _head_ref(ctx, repo, head) if ":" in head else (head, None)
        items = [
            i
            for i in items
            if (i.head_owner or "").lower() == owner.lower() and (branch is None or i.head_ref == branch)
        ]
    if base := ctx.query.get("base"):
        items = [i for i in items if i.base_ref == base]
    direction = ctx.query.get("direction", "desc")
    key = {"created": "created_at", "updated": "updated_at"}.get(ctx.query.get("sort", "created"), "created_at")
    items.sort(key=lambda i: (getattr(i, key), i.number), reverse=direction == "desc")
    chunk, links = ctx.page([st.pull_json(i, full=False) for i in items])
    return Reply(200, chunk, links)


@route("POST", "/repos/{owner}/{repo}/pulls", auth="token")
def create_pull(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/pulls/pulls#create-a-pull-request"
    repo = ctx.repo(("pull_requests",), "write", doc=doc)
    body = ctx.json_object()
    head, base = body.get("head"), body.get("base")
    if not body.get("title") and not body.get("issue"):
        raise validation_failed(doc, {"resource": "PullRequest", "field": "title", "code": "missing_field"})
    if not head:
        raise validation_failed(doc, {"resource": "PullRequest", "field": "head", "code": "missing_field"})
    if not base:
        raise validation_failed(doc, {"resource": "PullRequest", "field": "base", "code": "missing_field"})
    owner, branch = _head_ref(ctx, repo, str(head))
    gdir = st.git_dir(repo)
    with st.lock:
        if owner.lower() != repo.owner.lower():
            raise validation_failed(doc, {"resource": "PullRequest", "field": "head", "code": "invalid"})
        head_sha = gitrepo.resolve(gdir, f"refs/heads/{branch}")
        base_sha = gitrepo.resolve(gdir, f"refs/heads/{base}")
        if base_sha is None:
            raise validation_failed(doc, {"resource": "PullRequest", "field": "base", "code": "invalid"})
        if head_sha is None:
            raise validation_failed(doc, {"resource": "PullRequest", "field": "head", "code": "invalid"})
        for i in st.issues.values():
            if i.repo_id == repo.id and i.is_pull and i.state == "open" and i.head_ref == branch and i.base_ref == base:
                raise validation_failed(
                    doc,
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{branch}.",
                    },
                )
        if not gitrepo.git(gdir, "merge-base", base_sha, head_sha, check=False).strip():
            raise validation_failed(
                doc,
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"The {branch} branch has no history in common with {base}",
                },
            )
        ahead, _ = gitrepo.ahead_behind(gdir, base_sha, head_sha)
        if ahead == 0:
            raise validation_failed(
                doc, {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {branch}"}
            )
        issue = Issue(
            st.next_id("issue", 2000000),
            repo.id,
            st._next_number(repo),
            str(body.get("title") or ""),
            body.get("body"),
            ctx.actor(),
            is_pull=True,
            pull_id=st.next_id("pull", 1900000000),
            head_ref=branch,
            head_owner=repo.owner,
            base_ref=str(base),
            draft=bool(body.get("draft", False)),
            maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
        )
        issue.app_id = ctx.app_id()
        st.issues[(repo.id, issue.number)] = issue
        out = st.pull_json(issue)
    return Reply(201, out, {"location": out["url"]})


def _pull(ctx: Ctx, repo: Repo, doc: str) -> Issue:
    issue = ctx.state.issues.get((repo.id, ctx.int_param("pull_number")))
    if issue is None or not issue.is_pull:
        raise not_found(doc)
    return issue


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(ctx: Ctx) -> Reply:
    doc = f"{DOCS}/pulls/pulls#get-a-pull-request"
    repo = ctx.repo(("pull_requests",), doc=doc)
    return Reply(200, ctx.state.pull_json(_pull(ctx, repo, doc)))


@route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", auth="token")
def update_pull(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/pulls/pulls#update-a-pull-request"
    repo = ctx.repo(("pull_requests",), "write", doc=doc)
    issue = _pull(ctx, repo, doc)
    body = ctx.json_object()
    if "state" in body and body["state"] not in ("open", "closed"):
        raise validation_failed(doc, {"resource": "PullRequest", "field": "state", "code": "invalid"})
    if "base" in body and gitrepo.resolve(st.git_dir(repo), f"refs/heads/{body['base']}") is None:
        raise validation_failed(doc, {"resource": "PullRequest", "field": "base", "code": "invalid"})
    with st.lock:
        if "title" in body:
            issue.title = str(body["title"])
        if "body" in body:
            issue.body = body["body"]
        if "base" in body:
            issue.base_ref = str(body["base"])
        if "maintainer_can_modify" in body:
            issue.maintainer_can_modify = bool(body["maintainer_can_modify"])
        if body.get("state") == "closed" and issue.state == "open":
            issue.state, issue.closed_at = "closed", st.now()
        elif body.get("state") == "open" and issue.state == "closed":
            issue.state, issue.closed_at = "open", None
        issue.updated_at = st.now()
        return Reply(200, st.pull_json(issue))


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits")
def list_pull_commits(ctx: Ctx) -> Reply:
    st = ctx.state
    doc = f"{DOCS}/pulls/pulls#list-commits-on-a-pull-request"
    repo = ctx.repo(("pull_requests",), doc=doc)
    issue = _pull(ctx, repo, doc)
    gdir = st.git_dir(repo)
    head = gitrepo.resolve(gdir, f"refs/heads/{issue.head_ref}")
    base = gitrepo.resolve(gdir, f"refs/heads/{issue.base_ref}")
    shas = list(reversed(gitrepo.log(gdir, head, 250, base))) if head else []
    chunk, links = ctx.page([_commit_json(ctx, repo, s) for s in shas])
    return Reply(200, chunk, links)


def body_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Problems parsing JSON", doc=DOCS) from None
