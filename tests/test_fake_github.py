"""The fake GitHub, exercised through the real clients: githubkit (App and token auth), git over smart HTTP, httpx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit import webhooks as gk_webhooks
from githubkit.exception import PrimaryRateLimitExceeded, RequestFailed

from tests.fake_github import (
    FakeGitHub,
    FakeGitHubProcess,
    build_delivery,
    issue_comment_payload,
    ping_payload,
    push_payload,
    redeliver,
    send,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

DIGEST = "Paper One\nAn abstract about LoRA adapters.\n"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(tmp_path / "github") as fake:
        yield fake


@pytest.fixture
def world(gh: FakeGitHub) -> dict[str, Any]:
    """An org with a private digest repo and a target repo, four users with different roles, an installed App."""
    for login in ("alice", "bob", "carol", "mallory", "dana"):
        gh.add_user(login, name=login.title(), email=f"{login}@example.org")
    gh.add_org("acme", members={"alice": True, "dana": False})
    gh.create_repo("acme/digests", files={"README.md": "# digests\n", "digests/2026-12-01.txt": DIGEST})
    gh.create_repo("acme/papers-impl", files={"README.md": "# impl\n"})
    gh.create_repo("mallory/public-stuff", files={"x.txt": "x\n"}, private=False)
    gh.set_permission("acme/digests", "alice", "admin", via="org")
    gh.set_permission("acme/digests", "bob", "write")
    gh.set_permission("acme/digests", "carol", "read")
    gh.set_permission("acme/digests", "dana", "write", via="org")
    gh.set_permission("acme/papers-impl", "alice", "admin", via="org")
    app = gh.create_app("lit2code", owner="acme")
    installation_id = gh.install_app(app["id"], "acme")
    return {"app": app, "installation_id": installation_id}


def installation_client(gh: FakeGitHub, world: dict[str, Any], **kw: Any) -> GitHub[Any]:
    app = world["app"]
    auth = AppInstallationAuthStrategy(app["id"], app["private_key_pem"], world["installation_id"])
    return GitHub(auth, base_url=gh.api_url, **kw)


def token_client(gh: FakeGitHub, token: str, **kw: Any) -> GitHub[Any]:
    return GitHub(TokenAuthStrategy(token), base_url=gh.api_url, **kw)


def error_of(exc: pytest.ExceptionInfo[RequestFailed]) -> tuple[int, dict[str, Any]]:
    return exc.value.response.status_code, exc.value.response.json()


def blob_sha(data: bytes) -> str:
    """git's blob id, computed independently of git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# ---------------------------------------------------------------------- App authentication
def test_app_jwt_then_installation_token_through_githubkit(gh: FakeGitHub, world: dict[str, Any]) -> None:
    app = world["app"]
    as_app = GitHub(AppAuthStrategy(app["id"], app["private_key_pem"]), base_url=gh.api_url)
    me = as_app.rest.apps.get_authenticated().parsed_data
    assert (me.id, me.slug, me.owner.login) == (app["id"], "lit2code", "acme")
    inst = as_app.rest.apps.get_repo_installation("acme", "digests").parsed_data
    assert inst.id == world["installation_id"]
    assert inst.account.login == "acme" and inst.repository_selection == "all"

    client = installation_client(gh, world)
    repo = client.rest.repos.get("acme", "digests").parsed_data
    assert (repo.full_name, repo.default_branch, repo.private) == ("acme/digests", "main", True)
    client.rest.repos.get("acme", "papers-impl")

    minted = gh.requests("POST /app/installations/{installation_id}/access_tokens")
    assert len(minted) == 1 and minted[0]["status"] == 201 and minted[0]["identity"] == f"app:{app['id']}"
    used = gh.requests("GET /repos/{owner}/{repo}", kind="rest")
    assert [r["identity"] for r in used] == [f"installation:{world['installation_id']}"] * 2
    assert all(r["token"].startswith("ghs_") for r in used)


def test_installation_token_shape_expiry_and_refresh(gh: FakeGitHub, world: dict[str, Any]) -> None:
    app = world["app"]
    as_app = GitHub(AppAuthStrategy(app["id"], app["private_key_pem"]), base_url=gh.api_url)
    tok = as_app.rest.apps.create_installation_access_token(world["installation_id"]).parsed_data
    assert tok.token.startswith("ghs_") and len(tok.token) == 40
    assert time.strptime(tok.expires_at, "%Y-%m-%dT%H:%M:%SZ")
    assert tok.permissions.contents == "write" and tok.repository_selection == "all"

    restricted = as_app.rest.apps.create_installation_access_token(
        world["installation_id"], repositories=["papers-impl"], permissions={"contents": "read"}
    ).parsed_data
    assert restricted.repository_selection == "selected"
    assert [r.full_name for r in restricted.repositories or []] == ["acme/papers-impl"]
    narrow = token_client(gh, restricted.token)
    assert narrow.rest.repos.get("acme", "papers-impl").parsed_data.name == "papers-impl"
    with pytest.raises(RequestFailed) as exc:
        narrow.rest.repos.get("acme", "digests")
    assert exc.value.response.status_code == 404

    with pytest.raises(RequestFailed) as exc:
        as_app.rest.apps.create_installation_access_token(
            world["installation_id"], permissions={"administration": "write"}
        )
    assert error_of(exc) == (
        422,
        {
            "message": "The permissions requested are not granted to this installation.",
            "documentation_url": "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app",
            "status": "422",
        },
    )

    # An hour later (the fake's clock moved), the token is refused like GitHub does.
    gh.set_clock_offset(3601)
    expired = token_client(gh, tok.token)
    with pytest.raises(RequestFailed) as exc:
        expired.rest.repos.get("acme", "digests")
    assert error_of(exc)[0] == 401 and error_of(exc)[1]["message"] == "Bad credentials"
    gh.set_clock_offset(0)

    # Short-lived tokens: githubkit caches a token until a minute before expires_at, then mints a new one.
    gh.set_installation_token_lifetime(61)
    client = installation_client(gh, world, http_cache=False)
    client.rest.repos.get("acme", "digests")
    time.sleep(1.2)
    client.rest.repos.get("acme", "digests")
    minted = [r for r in gh.requests("POST /app/installations/{installation_id}/access_tokens") if r["status"] == 201]
    assert len(minted) == 4  # two minted directly above, then two by the client for the two calls
    tokens = [r["token"] for r in gh.requests("GET /repos/{owner}/{repo}")[-2:]]
    assert tokens[0] != tokens[1]


def _jwt(key_pem: str | bytes, iss: Any, iat: float, exp: float, alg: str = "RS256") -> str:
    return jwt.encode({"iss": str(iss), "iat": int(iat), "exp": int(exp)}, key_pem, algorithm=alg)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("expired", "'Expiration time' claim ('exp') must be a numeric value representing the future time"),
        ("too_far", "'Expiration time' claim ('exp') is too far in the future"),
        ("iat_future", "'Issued at' claim ('iat') must be an Integer"),
        ("wrong_key", "A JSON web token could not be decoded"),
        ("unknown_app", "A JSON web token could not be decoded"),
        ("hs256", "A JSON web token could not be decoded"),
        ("pat_on_app_route", "A JSON web token could not be decoded"),
    ],
)
def test_jwt_is_verified(gh: FakeGitHub, world: dict[str, Any], case: str, message: str) -> None:
    app, now = world["app"], time.time()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = {
        "expired": lambda: _jwt(app["private_key_pem"], app["id"], now - 700, now - 100),
        "too_far": lambda: _jwt(app["private_key_pem"], app["id"], now - 60, now + 1200),
        "iat_future": lambda: _jwt(app["private_key_pem"], app["id"], now + 300, now + 500),
        "wrong_key": lambda: _jwt(other_key, app["id"], now - 60, now + 500),
        "unknown_app": lambda: _jwt(app["private_key_pem"], 4242, now - 60, now + 500),
        "hs256": lambda: _jwt(
            "not-the-key-but-long-enough-for-hmac-0123456789", app["id"], now - 60, now + 500, "HS256"
        ),
        "pat_on_app_route": lambda: gh.create_pat("alice"),
    }[case]()
    resp = httpx.get(f"{gh.api_url}/app", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert resp.json()["message"].startswith(message)
    assert resp.json()["status"] == "401" and resp.json()["documentation_url"].startswith("https://docs.github.com/")
    # A good JWT (githubkit's own: iat 60 s in the past, exp 9 minutes ahead) and the client id as issuer pass.
    good = _jwt(app["private_key_pem"], app["client_id"], now - 60, now + 540)
    assert httpx.get(f"{gh.api_url}/app", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_clock_skew_makes_githubkit_jwt_too_far_in_the_future(gh: FakeGitHub, world: dict[str, Any]) -> None:
    app = world["app"]
    gh.set_clock_offset(-120)  # the fake is two minutes behind the client
    as_app = GitHub(AppAuthStrategy(app["id"], app["private_key_pem"]), base_url=gh.api_url)
    with pytest.raises(RequestFailed) as exc:
        as_app.rest.apps.get_authenticated()
    assert error_of(exc)[1]["message"] == "'Expiration time' claim ('exp') is too far in the future"


# ---------------------------------------------------------------------- token auth, users, repositories
def test_personal_token_user_and_repository(gh: FakeGitHub, world: dict[str, Any]) -> None:
    bob = token_client(gh, gh.create_pat("bob"))
    me = bob.rest.users.get_authenticated().parsed_data
    assert (me.login, me.type, me.email) == ("bob", "User", "bob@example.org")
    repo = bob.rest.repos.get("acme", "digests").parsed_data
    assert repo.clone_url == f"{gh.url}/acme/digests.git"
    assert repo.html_url == f"{gh.url}/acme/digests"
    assert repo.owner.login == "acme" and repo.owner.type == "Organization"
    assert repo.permissions is not None and repo.permissions.push and not repo.permissions.admin
    assert repo.organization is not None and repo.organization.login == "acme"
    # case-insensitive owner/repo, as on GitHub
    assert bob.rest.repos.get("ACME", "Digests").parsed_data.id == repo.id
    inst = installation_client(gh, world)
    with pytest.raises(RequestFailed) as exc:
        inst.rest.users.get_authenticated()
    assert error_of(exc)[0] == 403 and error_of(exc)[1]["message"] == "Resource not accessible by integration"


def test_unknown_token_and_invisible_repositories(gh: FakeGitHub, world: dict[str, Any]) -> None:
    unknown = token_client(gh, "ghp_" + "x" * 36)
    with pytest.raises(RequestFailed) as exc:
        unknown.rest.repos.get("acme", "digests")
    assert error_of(exc) == (
        401,
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"},
    )
    mallory = token_client(gh, gh.create_pat("mallory"))
    with pytest.raises(RequestFailed) as exc:
        mallory.rest.repos.get("acme", "digests")  # private and not hers: 404, not 403
    assert error_of(exc)[0] == 404 and error_of(exc)[1]["message"] == "Not Found"
    anonymous = GitHub(base_url=gh.api_url)
    assert anonymous.rest.repos.get("mallory", "public-stuff").parsed_data.private is False
    with pytest.raises(RequestFailed) as exc:
        anonymous.rest.repos.get("acme", "digests")
    assert error_of(exc)[0] == 404
    # a fine-grained token limited to one repository does not see the others
    only_impl = token_client(gh, gh.create_pat("alice", repositories=["acme/papers-impl"]))
    only_impl.rest.repos.get("acme", "papers-impl")
    with pytest.raises(RequestFailed) as exc:
        only_impl.rest.repos.get("acme", "digests")
    assert error_of(exc)[0] == 404
    assert [r["status"] for r in gh.requests("GET /repos/{owner}/{repo}")] == [401, 404, 200, 404, 200, 404]
    assert gh.requests("GET /repos/{owner}/{repo}")[0]["identity"] == "invalid"


def test_token_permission_missing_is_403_with_accepted_permissions(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.create_issue("acme/digests", "run it", user="bob")
    reader_token = gh.create_pat("bob", permissions={"metadata": "read", "issues": "read", "contents": "read"})
    reader = token_client(gh, reader_token)
    with pytest.raises(RequestFailed) as exc:
        reader.rest.issues.create_comment("acme", "digests", 1, body="hello")
    assert error_of(exc)[0] == 403
    assert error_of(exc)[1]["message"] == "Resource not accessible by personal access token"
    assert exc.value.response.headers["x-accepted-github-permissions"] == "issues=write; pull_requests=write"
    assert gh.comments_on("acme/digests") == []


@pytest.mark.parametrize(
    ("login", "permission", "role_name"),
    [
        ("alice", "admin", "admin"),
        ("bob", "write", "write"),
        ("carol", "read", "read"),
        ("mallory", "none", "none"),
        ("dana", "write", "write"),
    ],
)
def test_collaborator_permission(
    gh: FakeGitHub, world: dict[str, Any], login: str, permission: str, role_name: str
) -> None:
    client = installation_client(gh, world)
    got = client.rest.repos.get_collaborator_permission_level("acme", "digests", login).parsed_data
    assert (got.permission, got.role_name) == (permission, role_name)
    assert got.user is not None and got.user.login == login


def test_collaborator_permission_maps_roles_and_unknown_users(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.set_permission("acme/digests", "carol", "triage")
    gh.set_permission("acme/digests", "mallory", "maintain")
    client = installation_client(gh, world)
    carol = client.rest.repos.get_collaborator_permission_level("acme", "digests", "carol").parsed_data
    mallory = client.rest.repos.get_collaborator_permission_level("acme", "digests", "mallory").parsed_data
    assert (carol.permission, carol.role_name) == ("read", "triage")
    assert (mallory.permission, mallory.role_name) == ("write", "maintain")
    with pytest.raises(RequestFailed) as exc:
        client.rest.repos.get_collaborator_permission_level("acme", "digests", "ghost")
    assert error_of(exc)[0] == 404
    # public repository: any user reads it
    public = client.rest.repos.get_collaborator_permission_level
    with pytest.raises(RequestFailed):
        public("mallory", "public-stuff", "bob")  # not installed there: 404 for the installation
    pat = token_client(gh, gh.create_pat("bob"))
    got = pat.rest.repos.get_collaborator_permission_level("mallory", "public-stuff", "bob").parsed_data
    assert got.permission == "read"


def test_private_org_member_is_author_association_none(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.create_issue("acme/digests", "digest", user="alice")
    dana = gh.add_comment("acme/digests", 1, "/lit2code run digests/2026-12-01.txt", user="dana")
    alice = gh.add_comment("acme/digests", 1, "ok", user="alice")
    bob = gh.add_comment("acme/digests", 1, "ok", user="bob")
    assert (dana["author_association"], alice["author_association"], bob["author_association"]) == (
        "NONE",
        "MEMBER",
        "COLLABORATOR",
    )


# ---------------------------------------------------------------------- contents
def test_contents_file_directory_missing_and_ref(gh: FakeGitHub, world: dict[str, Any]) -> None:
    client = installation_client(gh, world)
    f = client.rest.repos.get_content("acme", "digests", "digests/2026-12-01.txt").parsed_data
    assert type(f).__name__ == "ContentFile"
    assert f.encoding == "base64" and "\n" in f.content
    assert base64.b64decode(f.content) == DIGEST.encode()
    assert f.sha == blob_sha(DIGEST.encode()) and f.size == len(DIGEST)
    assert f.path == "digests/2026-12-01.txt" and f.name == "2026-12-01.txt"
    listing = client.rest.repos.get_content("acme", "digests", "digests").parsed_data
    assert isinstance(listing, list) and [(e.type, e.name) for e in listing] == [("file", "2026-12-01.txt")]
    root = client.rest.repos.get_content("acme", "digests", "").parsed_data
    assert isinstance(root, list) and [(e.type, e.name) for e in root] == [("dir", "digests"), ("file", "README.md")]
    with pytest.raises(RequestFailed) as exc:
        client.rest.repos.get_content("acme", "digests", "digests/missing.txt")
    assert error_of(exc)[0] == 404
    with pytest.raises(RequestFailed) as exc:
        client.rest.repos.get_content("acme", "digests", "../../etc/passwd")
    assert error_of(exc)[0] == 404

    sha = gh.commit("acme/digests", {"digests/2026-12-02.txt": "new\n"}, branch="feature", author="bob")
    on_branch = client.rest.repos.get_content("acme", "digests", "digests/2026-12-02.txt", ref="feature").parsed_data
    assert base64.b64decode(on_branch.content) == b"new\n"
    by_sha = client.rest.repos.get_content("acme", "digests", "digests/2026-12-02.txt", ref=sha).parsed_data
    assert by_sha.sha == blob_sha(b"new\n")
    with pytest.raises(RequestFailed):
        client.rest.repos.get_content("acme", "digests", "digests/2026-12-02.txt")  # not on main
    raw = client.rest.repos.get_content(
        "acme", "digests", "README.md", headers={"Accept": "application/vnd.github.raw+json"}
    )
    assert raw.content == b"# digests\n"


# ---------------------------------------------------------------------- issues, comments, reactions
def test_status_comment_created_once_then_edited(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.create_issue("acme/digests", "Please run", body="digest", user="bob")
    client = installation_client(gh, world)
    made = client.rest.issues.create_comment("acme", "digests", 1, body="queued").parsed_data
    assert made.user is not None and (made.user.login, made.user.type) == ("lit2code[bot]", "Bot")
    assert made.performed_via_github_app is not None and made.performed_via_github_app.slug == "lit2code"
    assert made.html_url.endswith(f"/acme/digests/issues/1#issuecomment-{made.id}")
    edited = client.rest.issues.update_comment("acme", "digests", made.id, body="done: 3 papers").parsed_data
    assert edited.id == made.id and edited.body == "done: 3 papers"
    assert client.rest.issues.get_comment("acme", "digests", made.id).parsed_data.body == "done: 3 papers"
    assert [c["body"] for c in gh.comments_on("acme/digests", 1)] == ["done: 3 papers"]
    assert len(gh.requests("POST /repos/{owner}/{repo}/issues/{issue_number}/comments")) == 1
    assert len(gh.requests("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}")) == 1

    carol = token_client(gh, gh.create_pat("carol"))  # a reader may not edit someone else's comment
    with pytest.raises(RequestFailed) as exc:
        carol.rest.issues.update_comment("acme", "digests", made.id, body="hijack")
    assert error_of(exc)[0] == 403
    with pytest.raises(RequestFailed) as exc:
        client.rest.issues.update_comment("acme", "digests", made.id, body="x" * 65537)
    assert error_of(exc)[0] == 422 and error_of(exc)[1]["message"] == "Validation Failed"
    with pytest.raises(RequestFailed) as exc:
        client.rest.issues.create_comment("acme", "digests", 99, body="nowhere")
    assert error_of(exc)[0] == 404


def test_comments_paginate_with_link_header(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.create_issue("acme/digests", "many", user="bob")
    for i in range(5):
        gh.add_comment("acme/digests", 1, f"comment {i}", user="bob")
    client = installation_client(gh, world, http_cache=False)  # githubkit's HTTP cache may skip a request
    first = client.rest.issues.list_comments("acme", "digests", 1, per_page=2)
    assert [c.body for c in first.parsed_data] == ["comment 0", "comment 1"]
    link = first.headers["link"]
    assert 'rel="next"' in link and 'rel="last"' in link and "page=3" in link and "per_page=2" in link
    third = client.rest.issues.list_comments("acme", "digests", 1, per_page=2, page=3)
    assert [c.body for c in third.parsed_data] == ["comment 4"]
    assert 'rel="next"' not in third.headers["link"] and 'rel="first"' in third.headers["link"]
    everything = list(
        client.rest.paginate(client.rest.issues.list_comments, owner="acme", repo="digests", issue_number=1, per_page=2)
    )
    assert [c.body for c in everything] == [f"comment {i}" for i in range(5)]
    assert len(gh.requests("GET /repos/{owner}/{repo}/issues/{issue_number}/comments")) == 2 + 3


def test_reactions_on_a_command_comment(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.create_issue("acme/digests", "cmd", user="bob")
    cmd = gh.add_comment("acme/digests", 1, "/lit2code run digests/2026-12-01.txt", user="bob")
    client = installation_client(gh, world)
    first = client.rest.reactions.create_for_issue_comment("acme", "digests", cmd["id"], content="eyes")
    again = client.rest.reactions.create_for_issue_comment("acme", "digests", cmd["id"], content="eyes")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.parsed_data.id == again.parsed_data.id and first.parsed_data.user.login == "lit2code[bot]"
    unchecked = installation_client(gh, world, rest_api_validate_body=False)
    with pytest.raises(RequestFailed) as exc:
        unchecked.rest.reactions.create_for_issue_comment("acme", "digests", cmd["id"], content="thumbsup")  # type: ignore[arg-type]
    assert error_of(exc)[0] == 422
    assert gh.issue("acme/digests", 1)["comments"] == 1
    assert client.rest.issues.get_comment("acme", "digests", cmd["id"]).parsed_data.reactions.eyes == 1


# ---------------------------------------------------------------------- pull requests
def test_pull_request_create_duplicate_list_update(gh: FakeGitHub, world: dict[str, Any]) -> None:
    branch = "lit2code/2026-12-01-abcdef12"
    gh.commit("acme/papers-impl", {"papers/lora/__init__.py": ""}, branch=branch, message="Add lora", author="alice")
    client = installation_client(gh, world)
    pr = client.rest.pulls.create(
        "acme", "papers-impl", title="lit2code: 2026-12-01", head=branch, base="main", body="| paper |", draft=True
    ).parsed_data
    assert (pr.number, pr.draft, pr.state, pr.head.ref, pr.base.ref) == (1, True, "open", branch, "main")
    assert pr.head.label == f"acme:{branch}" and pr.head.sha == gh.branches("acme/papers-impl")[branch]
    assert pr.commits == 1 and pr.changed_files == 1 and pr.user.login == "lit2code[bot]"

    with pytest.raises(RequestFailed) as exc:
        client.rest.pulls.create("acme", "papers-impl", title="again", head=f"acme:{branch}", base="main")
    status, body = error_of(exc)
    assert status == 422 and body["message"] == "Validation Failed"
    assert body["errors"] == [
        {"resource": "PullRequest", "code": "custom", "message": f"A pull request already exists for acme:{branch}."}
    ]

    found = client.rest.pulls.list("acme", "papers-impl", head=f"acme:{branch}", state="open").parsed_data
    assert [p.number for p in found] == [1]
    assert client.rest.pulls.list("acme", "papers-impl", head="acme:other").parsed_data == []
    updated = client.rest.pulls.update("acme", "papers-impl", 1, body="| paper | committed |").parsed_data
    assert updated.body == "| paper | committed |" and updated.draft is True
    issue = client.rest.issues.get("acme", "papers-impl", 1).parsed_data
    assert issue.pull_request is not None and issue.pull_request.html_url.endswith("/acme/papers-impl/pull/1")
    # new commits on the branch move the PR's head
    sha2 = gh.commit("acme/papers-impl", {"papers/moe/__init__.py": ""}, branch=branch, author="alice")
    again = client.rest.pulls.get("acme", "papers-impl", 1).parsed_data
    assert again.head.sha == sha2 and again.commits == 2
    commits = client.rest.pulls.list_commits("acme", "papers-impl", 1).parsed_data
    assert [c.sha for c in commits][-1] == sha2 and len(commits) == 2
    closed = client.rest.pulls.update("acme", "papers-impl", 1, state="closed").parsed_data
    assert closed.state == "closed" and closed.closed_at is not None
    assert client.rest.pulls.list("acme", "papers-impl").parsed_data == []
    assert len(client.rest.pulls.list("acme", "papers-impl", state="all").parsed_data) == 1
    assert [p["number"] for p in gh.pulls("acme/papers-impl")] == [1]


def test_pull_request_422_for_missing_or_empty_head(gh: FakeGitHub, world: dict[str, Any]) -> None:
    client = installation_client(gh, world)
    gh.create_branch("acme/papers-impl", "empty")
    with pytest.raises(RequestFailed) as exc:
        client.rest.pulls.create("acme", "papers-impl", title="t", head="empty", base="main")
    assert error_of(exc)[1]["errors"][0]["message"] == "No commits between main and empty"
    with pytest.raises(RequestFailed) as exc:
        client.rest.pulls.create("acme", "papers-impl", title="t", head="nope", base="main")
    assert error_of(exc)[1]["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    with pytest.raises(RequestFailed) as exc:
        client.rest.pulls.create("acme", "papers-impl", title="t", head="empty", base="nope")
    assert error_of(exc)[1]["errors"] == [{"resource": "PullRequest", "field": "base", "code": "invalid"}]
    assert gh.pulls("acme/papers-impl") == []


def test_pulls_list_paginates_through_githubkit(gh: FakeGitHub, world: dict[str, Any]) -> None:
    for i in range(5):
        gh.commit("acme/papers-impl", {f"f{i}.txt": "x"}, branch=f"b{i}", author="alice")
    client = installation_client(gh, world, http_cache=False)
    for i in range(5):
        client.rest.pulls.create("acme", "papers-impl", title=f"pr {i}", head=f"b{i}", base="main")
    numbers = [
        p.number for p in client.rest.paginate(client.rest.pulls.list, owner="acme", repo="papers-impl", per_page=2)
    ]
    assert sorted(numbers) == [1, 2, 3, 4, 5] and len(numbers) == 5
    assert len(gh.requests("GET /repos/{owner}/{repo}/pulls")) == 3


# ---------------------------------------------------------------------- check runs and statuses
def test_check_run_lifecycle_and_validation(gh: FakeGitHub, world: dict[str, Any]) -> None:
    sha = gh.resolve_ref("acme/digests", "main")
    client = installation_client(gh, world)
    run = client.rest.checks.create(
        "acme",
        "digests",
        name="lit2code",
        head_sha=sha,
        status="queued",
        external_id="job-1",
        details_url="http://127.0.0.1/runs/1",
    ).parsed_data
    assert (run.status, run.conclusion, run.started_at, run.app.slug) == ("queued", None, None, "lit2code")
    run = client.rest.checks.update("acme", "digests", run.id, status="in_progress").parsed_data
    assert run.status == "in_progress" and run.started_at is not None
    unchecked = installation_client(gh, world, rest_api_validate_body=False)
    with pytest.raises(RequestFailed) as exc:
        unchecked.rest.checks.update("acme", "digests", run.id, status="completed")
    assert error_of(exc)[0] == 422
    run = client.rest.checks.update(
        "acme",
        "digests",
        run.id,
        status="completed",
        conclusion="success",
        output={"title": "2 committed", "summary": "| paper | status |", "text": "details"},
    ).parsed_data
    assert (run.status, run.conclusion, run.output.title) == ("completed", "success", "2 committed")
    assert run.completed_at is not None and run.external_id == "job-1"
    listed = client.rest.checks.list_for_ref("acme", "digests", "main").parsed_data
    assert listed.total_count == 1 and listed.check_runs[0].id == run.id
    assert [r["status"] for r in gh.check_runs("acme/digests", sha)] == ["completed"]

    for bad in (
        {"status": "done"},
        {"status": "completed"},
        {"conclusion": "great"},
        {"status": "pending"},
        {"conclusion": "action_required"},
        {"output": {"title": "no summary"}},
    ):
        with pytest.raises(RequestFailed) as exc:
            unchecked.rest.checks.create("acme", "digests", name="x", head_sha=sha, **bad)  # type: ignore[arg-type]
        assert error_of(exc)[0] == 422, bad
    with pytest.raises(RequestFailed) as exc:
        client.rest.checks.create("acme", "digests", name="x", head_sha="f" * 40)
    assert error_of(exc)[1]["message"] == f"No commit found for SHA: {'f' * 40}"
    # a conclusion alone completes the run
    quick = client.rest.checks.create("acme", "digests", name="quick", head_sha=sha, conclusion="neutral").parsed_data
    assert quick.status == "completed"


def test_check_runs_need_an_app_and_commit_statuses_work_with_a_pat(gh: FakeGitHub, world: dict[str, Any]) -> None:
    sha = gh.resolve_ref("acme/digests", "main")
    bob = token_client(gh, gh.create_pat("bob"))
    with pytest.raises(RequestFailed) as exc:
        bob.rest.checks.create("acme", "digests", name="lit2code", head_sha=sha)
    assert error_of(exc)[0] == 403 and error_of(exc)[1]["message"] == "You must authenticate via a GitHub App."
    made = bob.rest.repos.create_commit_status("acme", "digests", sha, state="pending", context="lit2code").parsed_data
    assert made.state == "pending" and made.creator is not None and made.creator.login == "bob"
    bob.rest.repos.create_commit_status("acme", "digests", sha, state="success", context="lit2code")
    combined = bob.rest.repos.get_combined_status_for_ref("acme", "digests", "main").parsed_data
    assert combined.state == "success" and combined.total_count == 1
    carol = token_client(gh, gh.create_pat("carol"))
    with pytest.raises(RequestFailed) as exc:
        carol.rest.repos.create_commit_status("acme", "digests", sha, state="success")
    assert error_of(exc)[0] == 403


# ---------------------------------------------------------------------- headers, rate limits, faults, caching
def test_every_response_has_rate_limit_and_request_id_headers(gh: FakeGitHub, world: dict[str, Any]) -> None:
    pat = gh.create_pat("bob")
    seen = []
    for path in ("/repos/acme/digests", "/repos/acme/nope", "/user", "/app"):
        resp = httpx.get(gh.api_url + path, headers={"Authorization": f"token {pat}"})
        for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used"):
            assert resp.headers[h].isdigit(), (path, h)
        assert resp.headers["x-ratelimit-resource"] == "core"
        assert len(resp.headers["x-github-request-id"].split(":")) == 5
        seen.append((resp.status_code, int(resp.headers["x-ratelimit-remaining"])))
    assert [s for s, _ in seen] == [200, 404, 200, 401]
    assert seen[0][1] == 4999 and seen[1][1] == 4998 and seen[2][1] == 4997
    resp = httpx.get(gh.api_url + "/repos/acme/digests", headers={"X-GitHub-Api-Version": "2099-01-01"})
    assert resp.status_code == 400 and resp.json()["message"] == "API version 2099-01-01 is not supported."


def test_primary_rate_limit_exhausted(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.set_rate_limit("user", 3)
    bob = token_client(gh, gh.create_pat("bob"), auto_retry=False, http_cache=False)
    for _ in range(3):
        bob.rest.repos.get("acme", "digests")
    with pytest.raises(PrimaryRateLimitExceeded) as exc:
        bob.rest.repos.get("acme", "digests")
    resp = exc.value.response
    assert resp.status_code == 403 and resp.headers["x-ratelimit-remaining"] == "0"
    assert resp.json()["message"].startswith("API rate limit exceeded for user ID")


def test_injected_faults_and_githubkit_retries(gh: FakeGitHub, world: dict[str, Any]) -> None:
    client = installation_client(gh, world)
    gh.inject_fault("GET /repos/{owner}/{repo}", status=502, times=1)
    assert client.rest.repos.get("acme", "digests").parsed_data.name == "digests"  # githubkit retried after 1 s
    got = gh.requests("GET /repos/{owner}/{repo}")
    assert [(r["status"], r["fault"]) for r in got] == [(502, True), (200, False)]

    gh.inject_fault("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", status=403, rate_limit="secondary")
    gh.create_issue("acme/digests", "i", user="bob")
    client.rest.issues.create_comment("acme", "digests", 1, body="after a secondary limit")
    posts = gh.requests("POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
    assert [r["status"] for r in posts] == [403, 201]
    assert len(gh.comments_on("acme/digests", 1)) == 1

    no_retry = installation_client(gh, world, auto_retry=False)
    gh.inject_fault("GET /repos/{owner}/{repo}/pulls", status=403, rate_limit="primary", times=2)
    for _ in range(2):
        with pytest.raises(PrimaryRateLimitExceeded):
            no_retry.rest.pulls.list("acme", "digests")
    assert no_retry.rest.pulls.list("acme", "digests").parsed_data == []
    gh.inject_fault(path_contains="/contents/", status=500, body={"message": "Server Error"})
    with pytest.raises(RequestFailed) as exc:
        no_retry.rest.repos.get_content("acme", "digests", "README.md")
    assert error_of(exc) == (500, {"message": "Server Error"})


def test_conditional_requests_answer_304_without_spending_rate_limit(gh: FakeGitHub, world: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {gh.create_pat('bob')}"}
    first = httpx.get(gh.api_url + "/repos/acme/digests/pulls", headers=headers)
    again = httpx.get(
        gh.api_url + "/repos/acme/digests/pulls", headers=headers | {"If-None-Match": first.headers["etag"]}
    )
    assert first.status_code == 200 and again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    gh.commit("acme/digests", {"a": "1"}, branch="x", author="bob")
    bob = token_client(gh, gh.create_pat("bob"))
    bob.rest.pulls.create("acme", "digests", title="t", head="x", base="main")
    changed = httpx.get(
        gh.api_url + "/repos/acme/digests/pulls", headers=headers | {"If-None-Match": first.headers["etag"]}
    )
    assert changed.status_code == 200 and len(changed.json()) == 1


# ---------------------------------------------------------------------- git smart HTTP
def _git(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base |= {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd or Path.cwd())}
    base |= {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "T"}
    base |= {"GIT_COMMITTER_EMAIL": "t@example.org"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=base | (env or {}), capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def _basic(token: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def test_git_clone_and_push_with_an_installation_token(gh: FakeGitHub, world: dict[str, Any], tmp_path: Path) -> None:
    app = world["app"]
    as_app = GitHub(AppAuthStrategy(app["id"], app["private_key_pem"]), base_url=gh.api_url)
    token = as_app.rest.apps.create_installation_access_token(world["installation_id"]).parsed_data.token
    url = f"{gh.url}/acme/papers-impl.git"
    work = tmp_path / "work"
    _git("-c", f"http.extraHeader={_basic(token)}", "clone", "--quiet", url, str(work), cwd=tmp_path)
    assert (work / "README.md").read_text() == "# impl\n"
    (work / "papers").mkdir()
    (work / "papers" / "lora.py").write_text("print('lora')\n")
    _git("checkout", "--quiet", "-b", "lit2code/digest-12345678", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "Add lora\n\nLit2code-Paper: 2501.00001", cwd=work)
    head = _git("rev-parse", "HEAD", cwd=work).stdout.strip()
    _git("-c", f"http.extraHeader={_basic(token)}", "push", "--quiet", "origin", "lit2code/digest-12345678", cwd=work)

    for path in (work / ".git" / "config", *(work / ".git").rglob("*")):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert gh.branches("acme/papers-impl")["lit2code/digest-12345678"] == head
    assert gh.read_file("acme/papers-impl", "papers/lora.py", "lit2code/digest-12345678") == "print('lora')\n"
    assert gh.pushes("acme/papers-impl") == [
        {
            "repo": "acme/papers-impl",
            "ref": "refs/heads/lit2code/digest-12345678",
            "before": "0" * 40,
            "after": head,
            "pusher": "lit2code[bot]",
            "time": gh.pushes()[0]["time"],
        }
    ]
    client = installation_client(gh, world)
    branch = client.rest.repos.get_branch("acme", "papers-impl", "lit2code/digest-12345678").parsed_data
    assert branch.commit.sha == head and branch.commit.commit.message.startswith("Add lora")
    pr = client.rest.pulls.create(
        "acme", "papers-impl", title="t", head="lit2code/digest-12345678", base="main"
    ).parsed_data
    assert pr.head.sha == head and pr.commits == 1
    git_reqs = gh.requests(kind="git")
    assert {r["endpoint"] for r in git_reqs} == {"git-upload-pack", "git-receive-pack"}
    assert all(r["status"] == 200 and r["identity"] == f"installation:{world['installation_id']}" for r in git_reqs)


def test_git_credential_helper_reading_env_and_large_chunked_push(
    gh: FakeGitHub, tmp_path: Path, world: dict[str, Any]
) -> None:
    token = gh.create_pat("bob")
    helper = '!f() { echo username=x-access-token; echo "password=$LIT2CODE_TEST_TOKEN"; }; f'
    env = {"LIT2CODE_TEST_TOKEN": token}
    work = tmp_path / "w"
    url = f"{gh.url}/acme/digests.git"
    _git("-c", f"credential.helper={helper}", "clone", "--quiet", url, str(work), cwd=tmp_path, env=env)
    (work / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # beyond http.postBuffer: a chunked request
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "big", cwd=work)
    _git("-c", f"credential.helper={helper}", "push", "--quiet", "origin", "HEAD:refs/heads/big", cwd=work, env=env)
    assert token not in (work / ".git" / "config").read_text()
    statuses = [(r["endpoint"], r["status"]) for r in gh.requests(kind="git")]
    assert ("git-upload-pack", 401) in statuses  # git asked for credentials after the challenge
    pushes = [r for r in gh.requests(kind="git") if r["method"] == "POST" and r["endpoint"] == "git-receive-pack"]
    assert pushes and pushes[-1]["status"] == 200
    assert pushes[-1]["request_headers"].get("transfer-encoding") == "chunked"
    assert len(gh.read_file("acme/digests", "big.bin", "big") or "") > 0
    # a fetch that has to negotiate many commits the server lacks sends gzip'ed upload-pack requests
    for i in range(80):  # dated after everything the server has: git offers them first, all of them
        later = {"GIT_COMMITTER_DATE": f"@{4102444800 + i} +0000", "GIT_AUTHOR_DATE": f"@{4102444800 + i} +0000"}
        _git("commit", "--quiet", "--allow-empty", "-m", f"local {i}", cwd=work, env=later)
    server_sha = gh.commit("acme/digests", {"server.txt": "s"}, author="bob")
    fetch = ["-c", f"credential.helper={helper}", "-c", "protocol.version=0", "fetch", "--quiet", "origin", "main"]
    _git(*fetch, cwd=work, env=env)
    assert _git("rev-parse", "FETCH_HEAD", cwd=work).stdout.strip() == server_sha
    uploads = [r for r in gh.requests(kind="git") if r["method"] == "POST" and r["endpoint"] == "git-upload-pack"]
    assert uploads[-1]["status"] == 200
    assert any(r["request_headers"].get("content-encoding") == "gzip" for r in uploads)


def test_git_auth_errors(gh: FakeGitHub, world: dict[str, Any], tmp_path: Path) -> None:
    url = f"{gh.url}/acme/digests.git"
    no_auth = _git("clone", url, str(tmp_path / "a"), cwd=tmp_path, check=False)
    assert no_auth.returncode != 0
    first = gh.requests(kind="git")[0]
    assert first["status"] == 401 and first["identity"] == "anonymous"
    resp = httpx.get(f"{url}/info/refs?service=git-upload-pack")
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == 'Basic realm="GitHub"'

    bad = _git(
        "-c",
        f"http.extraHeader={_basic('ghp_' + 'y' * 36)}",
        "clone",
        url,
        str(tmp_path / "b"),
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode != 0
    mallory = _git(
        "-c",
        f"http.extraHeader={_basic(gh.create_pat('mallory'))}",
        "clone",
        url,
        str(tmp_path / "c"),
        cwd=tmp_path,
        check=False,
    )
    assert mallory.returncode != 0 and "not found" in mallory.stderr.lower()

    carol = gh.create_pat("carol")
    work = tmp_path / "d"
    _git("-c", f"http.extraHeader={_basic(carol)}", "clone", "--quiet", url, str(work), cwd=tmp_path)
    (work / "x.txt").write_text("x")
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "x", cwd=work)
    denied = _git(
        "-c", f"http.extraHeader={_basic(carol)}", "push", "origin", "HEAD:refs/heads/x", cwd=work, check=False
    )
    assert denied.returncode != 0 and "Permission to acme/digests.git denied to carol." in denied.stderr
    read_only = gh.create_pat("bob", permissions={"metadata": "read", "contents": "read"})
    denied = _git(
        "-c", f"http.extraHeader={_basic(read_only)}", "push", "origin", "HEAD:refs/heads/x", cwd=work, check=False
    )
    assert denied.returncode != 0 and "denied to bob" in denied.stderr
    assert "x" not in gh.branches("acme/digests")
    # a public repository clones anonymously, but pushing needs credentials
    public = tmp_path / "pub"
    _git("clone", "--quiet", f"{gh.url}/mallory/public-stuff", str(public), cwd=tmp_path)
    assert (public / "x.txt").read_text() == "x\n"
    statuses = [(r["endpoint"], r["status"]) for r in gh.requests(kind="git")]
    assert ("git-receive-pack", 403) in statuses


def test_pushing_workflow_files_needs_the_workflows_permission(
    gh: FakeGitHub, world: dict[str, Any], tmp_path: Path
) -> None:
    app = world["app"]
    as_app = GitHub(AppAuthStrategy(app["id"], app["private_key_pem"]), base_url=gh.api_url)
    token = as_app.rest.apps.create_installation_access_token(world["installation_id"]).parsed_data.token
    work = tmp_path / "w"
    _git(
        "-c",
        f"http.extraHeader={_basic(token)}",
        "clone",
        "--quiet",
        f"{gh.url}/acme/papers-impl.git",
        str(work),
        cwd=tmp_path,
    )
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "ci", cwd=work)
    push = _git(
        "-c", f"http.extraHeader={_basic(token)}", "push", "origin", "HEAD:refs/heads/ci", cwd=work, check=False
    )
    assert push.returncode != 0
    refusal = "refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml`"
    assert f"{refusal} without `workflows` permission" in push.stderr
    assert "ci" not in gh.branches("acme/papers-impl")
    gh.installations[world["installation_id"]].permissions["workflows"] = "write"
    token2 = as_app.rest.apps.create_installation_access_token(world["installation_id"]).parsed_data.token
    _git("-c", f"http.extraHeader={_basic(token2)}", "push", "--quiet", "origin", "HEAD:refs/heads/ci", cwd=work)
    assert "ci" in gh.branches("acme/papers-impl")


# ---------------------------------------------------------------------- webhook deliveries
class _Receiver:
    """A tiny webhook endpoint on loopback that keeps what it got (the stand-in for lit2code's server)."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self.got.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"queued"})


@pytest.fixture
def receiver() -> Iterator[tuple[str, _Receiver]]:
    app = _Receiver()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/github/webhook", app
    server.should_exit = True
    thread.join(5)


def _verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-hub-signature-256", ""))


def test_push_delivery_from_a_real_commit(
    gh: FakeGitHub, world: dict[str, Any], receiver: tuple[str, _Receiver]
) -> None:
    url, got = receiver
    before = gh.resolve_ref("acme/digests", "main")
    after = gh.commit(
        "acme/digests",
        {"digests/2026-12-02.txt": "Paper Two\n", "README.md": "# digests v2\n", "digests/2026-12-01.txt": None},
        message="Add the 2 December digest",
        author="bob",
    )
    payload = push_payload(
        gh, "acme/digests", before=before, after=after, pusher="bob", installation_id=world["installation_id"]
    )
    assert payload["commits"][0]["added"] == ["digests/2026-12-02.txt"]
    assert payload["commits"][0]["modified"] == ["README.md"]
    assert payload["commits"][0]["removed"] == ["digests/2026-12-01.txt"]
    assert payload["head_commit"]["id"] == after and payload["ref"] == "refs/heads/main"
    assert payload["repository"]["default_branch"] == "main" and isinstance(payload["repository"]["pushed_at"], int)
    assert payload["sender"]["login"] == "bob" and payload["installation"]["id"] == world["installation_id"]
    event = gk_webhooks.parse("push", json.dumps(payload))  # githubkit's own webhook models accept the shape
    assert event.after == after and event.repository.full_name == "acme/digests"

    secret = world["app"]["webhook_secret"]
    delivery = build_delivery("push", payload, secret=secret, installation_target=("integration", world["app"]["id"]))
    resp = send(url, delivery)
    assert resp.status_code == 202
    headers, body = got.got[-1]
    assert body == delivery.body and _verified(secret, headers, body)
    assert gk_webhooks.verify(secret, body, headers["x-hub-signature-256"])
    assert headers["x-github-event"] == "push" and headers["x-github-delivery"] == delivery.delivery_id
    assert headers["user-agent"].startswith("GitHub-Hookshot/") and headers["content-type"] == "application/json"
    assert headers["x-hub-signature"].startswith("sha1=")


def test_delivery_variants(gh: FakeGitHub, world: dict[str, Any], receiver: tuple[str, _Receiver]) -> None:
    url, got = receiver
    secret = "s3cret"
    payload = ping_payload(gh, "acme/digests", app_id=world["app"]["id"], sender="alice")
    assert gk_webhooks.parse("ping", json.dumps(payload)).zen
    ok = build_delivery("ping", payload, secret=secret)
    wrong = build_delivery("ping", payload, secret="other")
    missing = build_delivery("ping", payload, secret=secret, signature=None)
    truncated = build_delivery("ping", payload, secret=secret, signature=ok.headers["X-Hub-Signature-256"][:20])
    same_id = redeliver(ok)
    new_id = redeliver(ok, new_id=True)
    malformed = build_delivery("ping", secret=secret, body=b'{"zen": ')
    for d in (ok, wrong, missing, truncated, same_id, new_id, malformed):
        assert send(url, d).status_code == 202
    verdicts = [_verified(secret, h, b) for h, b in got.got]
    assert verdicts == [True, False, False, False, True, True, True]
    ids = [h["x-github-delivery"] for h, _ in got.got]
    assert ids[4] == ids[0] and ids[5] != ids[0]
    assert "x-hub-signature-256" not in got.got[2][0]


def test_issue_comment_payload(gh: FakeGitHub, world: dict[str, Any]) -> None:
    gh.commit("acme/digests", {"p.txt": "p"}, branch="pr", author="bob")
    bob = token_client(gh, gh.create_pat("bob"))
    bob.rest.pulls.create("acme", "digests", title="t", head="pr", base="main")
    comment = gh.add_comment("acme/digests", 1, "/lit2code reject 2501.00001 off-topic", user="bob")
    payload = issue_comment_payload(gh, "acme/digests", 1, comment, installation_id=world["installation_id"])
    event = gk_webhooks.parse("issue_comment", json.dumps(payload))
    assert event.action == "created" and event.comment.body.startswith("/lit2code reject")
    assert payload["issue"]["pull_request"]["url"].endswith("/repos/acme/digests/pulls/1")
    assert payload["comment"]["user"] == {**payload["sender"]} and payload["sender"]["type"] == "User"
    edited = issue_comment_payload(gh, "acme/digests", 1, comment, action="edited", previous_body="/lit2code status")
    assert edited["changes"] == {"body": {"from": "/lit2code status"}}
    assert gk_webhooks.parse("issue_comment", json.dumps(edited)).action == "edited"
    bot = installation_client(gh, world)
    bot_comment = bot.rest.issues.create_comment("acme", "digests", 1, body="status").parsed_data
    bot_payload = issue_comment_payload(gh, "acme/digests", 1, gh.comments_on("acme/digests", 1)[-1])
    assert bot_payload["sender"]["type"] == "Bot" and bot_payload["comment"]["id"] == bot_comment.id


# ---------------------------------------------------------------------- subprocess mode
def test_subprocess_fake_with_control_api(tmp_path: Path) -> None:
    with FakeGitHubProcess(tmp_path / "state") as remote:
        remote.add_user("alice")
        remote.create_repo("alice/digests", files={"digests/a.txt": "A\n"})
        token = remote.create_pat("alice")
        client = GitHub(TokenAuthStrategy(token), base_url=remote.api_url)
        content = client.rest.repos.get_content("alice", "digests", "digests/a.txt").parsed_data
        assert base64.b64decode(content.content) == b"A\n"
        work = tmp_path / "clone"
        _git(
            "-c",
            f"http.extraHeader={_basic(token)}",
            "clone",
            "--quiet",
            f"{remote.url}/alice/digests.git",
            str(work),
            cwd=tmp_path,
        )
        assert (work / "digests" / "a.txt").read_text() == "A\n"
        recorded = remote.requests()
        assert [r["endpoint"] for r in recorded if r["kind"] == "rest"] == ["GET /repos/{owner}/{repo}/contents/{path}"]
        assert any(r["kind"] == "git" for r in recorded)
        with pytest.raises(Exception, match="no user ghost"):
            remote.create_pat("ghost")
    assert (tmp_path / "state" / "repos" / "alice" / "digests.git" / "HEAD").exists()


def test_the_fake_sends_events_it_causes(
    gh: FakeGitHub, world: dict[str, Any], receiver: tuple[str, _Receiver], tmp_path: Path
) -> None:
    url, got = receiver
    gh.configure_webhook(url, "hook-secret", installation_id=world["installation_id"])
    gh.create_issue("acme/digests", "run", user="bob")
    bot = installation_client(gh, world)
    made = bot.rest.issues.create_comment("acme", "digests", 1, body="lit2code: queued").parsed_data
    bot.rest.issues.update_comment("acme", "digests", made.id, body="lit2code: done")
    token = gh.create_pat("bob")
    work = tmp_path / "w"
    _git(
        "-c",
        f"http.extraHeader={_basic(token)}",
        "clone",
        "--quiet",
        f"{gh.url}/acme/digests.git",
        str(work),
        cwd=tmp_path,
    )
    (work / "digests" / "2026-12-03.txt").write_text("Paper\n")
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "digest", cwd=work)
    _git("-c", f"http.extraHeader={_basic(token)}", "push", "--quiet", "origin", "HEAD:main", cwd=work)

    sent = gh.deliveries()
    assert [(d["event"], d["status"]) for d in sent] == [("issue_comment", 202)] * 2 + [("push", 202)]
    created, edited, push = (d["payload"] for d in sent)
    assert created["action"] == "created" and created["sender"]["login"] == "lit2code[bot]"
    assert created["comment"]["performed_via_github_app"]["id"] == world["app"]["id"]
    assert edited["action"] == "edited" and edited["changes"] == {"body": {"from": "lit2code: queued"}}
    assert push["ref"] == "refs/heads/main" and push["commits"][-1]["added"] == ["digests/2026-12-03.txt"]
    assert push["pusher"]["name"] == "bob" and push["installation"]["id"] == world["installation_id"]
    assert all(_verified("hook-secret", h, b) for h, b in got.got)
    assert [h["x-github-event"] for h, _ in got.got] == ["issue_comment", "issue_comment", "push"]
    gk_webhooks.parse("push", json.dumps(push))
    assert token in gh.issued_tokens() and any(t.startswith("ghs_") for t in gh.issued_tokens())
