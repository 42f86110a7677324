"""Webhook deliveries as GitHub sends them: payload builders, an HMAC signature made with the standard library
(independent of any code under test), and an HTTP sender with the headers GitHub's Hookshot sets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from .model import iso, now

ZERO = "0" * 40


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact raw body, as in X-Hub-Signature-256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_sha1(body: bytes, secret: str) -> str:
    """`sha1=<hex>`, the legacy X-Hub-Signature header GitHub still sends beside the SHA-256 one."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """The body bytes GitHub sends: compact JSON, UTF-8, non-ASCII kept as is."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Delivery:
    """One webhook delivery: its event, id, raw body and the headers it was (or will be) sent with."""

    event: str
    body: bytes
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


def build_delivery(
    event: str,
    payload: dict[str, Any] | None = None,
    *,
    secret: str | None,
    body: bytes | None = None,
    delivery_id: str | None = None,
    signature: str | None = "auto",
    sha1_signature: bool = True,
    hook_id: int = 123456789,
    installation_target: tuple[str, int] | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Delivery:
    """A delivery with Hookshot's headers.

    `body` overrides the encoded payload (malformed JSON, a 5 MB body, different whitespace). `signature`:
    "auto" signs the body with `secret`; None sends no X-Hub-Signature-256; any other string is sent verbatim
    (a truncated or forged signature). `secret=None` means an unsigned delivery (a hook without a secret)."""
    raw = body if body is not None else encode(payload or {})
    did = delivery_id or str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/" + secrets.token_hex(4)[:7],
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": did,
        "X-GitHub-Hook-ID": str(hook_id),
    }
    if installation_target is not None:
        headers["X-GitHub-Hook-Installation-Target-Type"] = installation_target[0]
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(installation_target[1])
    if signature == "auto":
        if secret is not None:
            headers["X-Hub-Signature-256"] = sign(raw, secret)
            if sha1_signature:
                headers["X-Hub-Signature"] = sign_sha1(raw, secret)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    headers.update(extra_headers or {})
    return Delivery(event, raw, did, headers)


def send(url: str, delivery: Delivery, *, timeout: float = 10.0) -> httpx.Response:
    """POST a delivery to a webhook URL (what GitHub does; it waits up to 10 s for the answer)."""
    return httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=timeout)


async def asend(
    url: str, delivery: Delivery, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None
) -> httpx.Response:
    """The async twin of send(), for concurrent deliveries (e.g. the same delivery twice at once)."""
    if client is not None:
        return await client.post(url, content=delivery.body, headers=delivery.headers, timeout=timeout)
    async with httpx.AsyncClient() as c:
        return await c.post(url, content=delivery.body, headers=delivery.headers, timeout=timeout)


def redeliver(delivery: Delivery, *, secret: str | None = None, new_id: bool = False) -> Delivery:
    """The same payload again: GitHub's "Redeliver" keeps the delivery id; new_id=True models a second hook."""
    headers = dict(delivery.headers)
    did = str(uuid.uuid4()) if new_id else delivery.delivery_id
    headers["X-GitHub-Delivery"] = did
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(delivery.body, secret)
    return Delivery(delivery.event, delivery.body, did, headers)


# ---------------------------------------------------------------------- payloads
def _installation(installation_id: int | None) -> dict[str, Any]:
    if installation_id is None:
        return {}
    legacy = base64.b64encode(f"23:IntegrationInstallation{installation_id}".encode()).decode()
    return {"installation": {"id": installation_id, "node_id": legacy}}


def _to_epoch(value: str | None) -> int:
    from datetime import datetime

    if not value:
        return int(now())
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def organization_json(owner: dict[str, Any]) -> dict[str, Any]:
    """The `organization` object of an event payload (GitHub's organization-simple shape)."""
    org = owner["url"].replace("/users/", "/orgs/")
    return {
        "login": owner["login"],
        "id": owner["id"],
        "node_id": owner["node_id"],
        "url": org,
        "repos_url": f"{org}/repos",
        "events_url": f"{org}/events",
        "hooks_url": f"{org}/hooks",
        "issues_url": f"{org}/issues",
        "members_url": f"{org}/members{{/member}}",
        "public_members_url": f"{org}/public_members{{/member}}",
        "avatar_url": owner["avatar_url"],
        "description": "",
    }


def _org(repo: dict[str, Any]) -> dict[str, Any]:
    return {"organization": organization_json(repo["owner"])} if repo["owner"]["type"] == "Organization" else {}


def push_repository(repo: dict[str, Any]) -> dict[str, Any]:
    """A push event's repository: like the REST one, but created_at/pushed_at are epoch seconds and the owner
    carries name/email, as GitHub sends it."""
    out = {
        k: v for k, v in repo.items() if k not in ("permissions", "organization", "network_count", "subscribers_count")
    }
    out["created_at"] = _to_epoch(repo.get("created_at"))
    out["pushed_at"] = _to_epoch(repo.get("pushed_at"))
    out["owner"] = {"name": repo["owner"]["login"], "email": None, **repo["owner"]}
    out["stargazers"] = 0
    out["master_branch"] = repo["default_branch"]
    if repo.get("organization"):
        out["organization"] = repo["owner"]["login"]
    return out


def push_payload(
    fake: Any,
    full_name: str,
    *,
    after: str,
    before: str | None = None,
    ref: str | None = None,
    pusher: str,
    installation_id: int | None = None,
    forced: bool = False,
) -> dict[str, Any]:
    """A `push` event for commits already in the fake's repository: before..after on `ref` (default branch);
    commits[] with added/modified/removed computed from the real git commits (oldest first, at most 20, as GitHub)."""
    repo = fake.repo(full_name)
    ref = ref or f"refs/heads/{repo['default_branch']}"
    created = before is None or before == ZERO
    commits = fake.commits(full_name, after, exclude=None if created else before)
    if created:
        commits = commits[:1]
    commits = list(reversed(commits))[-20:]
    base = repo["html_url"]
    pusher_json = fake.user_json_of(pusher)

    def commit_json(c: dict[str, Any]) -> dict[str, Any]:
        def person(p: dict[str, str]) -> dict[str, Any]:
            username = p["email"].split("@")[0].split("+")[-1] if "noreply" in p["email"] else None
            return {"name": p["name"], "email": p["email"], **({"username": username} if username else {})}

        return {
            "id": c["sha"],
            "tree_id": c.get("tree", ""),
            "distinct": True,
            "message": c["message"],
            "timestamp": c.get("timestamp") or iso(now()),
            "url": f"{base}/commit/{c['sha']}",
            "author": person(c["author"]),
            "committer": person(c["committer"]),
            "added": c["added"],
            "removed": c["removed"],
            "modified": c["modified"],
        }

    commit_objs = [commit_json(c) for c in commits]
    before_sha = before or ZERO
    return {
        "ref": ref,
        "before": before_sha,
        "after": after,
        "repository": push_repository(repo),
        "pusher": {"name": pusher, "email": f"{pusher_json['id']}+{pusher}@users.noreply.github.com"},
        **_org(repo),
        **_installation(installation_id),
        "sender": pusher_json,
        "created": created,
        "deleted": after == ZERO,
        "forced": forced,
        "base_ref": None,
        "compare": f"{base}/compare/{before_sha[:12]}...{after[:12]}" if not created else f"{base}/commit/{after[:12]}",
        "commits": commit_objs,
        "head_commit": commit_objs[-1] if commit_objs else None,
    }


def issue_comment_payload(
    fake: Any,
    full_name: str,
    number: int,
    comment: dict[str, Any],
    *,
    action: str = "created",
    installation_id: int | None = None,
    sender: str | None = None,
    previous_body: str | None = None,
) -> dict[str, Any]:
    """An `issue_comment` event (created / edited / deleted) for a comment made with fake.add_comment()."""
    repo = fake.repo(full_name)
    issue = fake.issue(full_name, number)
    payload: dict[str, Any] = {
        "action": action,
        "issue": issue,
        "comment": comment,
        "repository": {k: v for k, v in repo.items() if k not in ("organization",)},
        **_org(repo),
        "sender": fake.user_json_of(sender or comment["user"]["login"]),
        **_installation(installation_id),
    }
    if action == "edited":
        payload["changes"] = {"body": {"from": previous_body or ""}}
    return payload


def ping_payload(
    fake: Any | None = None,
    full_name: str | None = None,
    *,
    hook_id: int = 123456789,
    app_id: int | None = None,
    url: str = "http://127.0.0.1/github/webhook",
    sender: str | None = None,
    events: list[str] | None = None,
) -> dict[str, Any]:
    """A `ping` event (sent when a hook or an App's webhook is set up)."""
    hook: dict[str, Any] = {
        "type": "App" if app_id is not None else "Repository",
        "id": hook_id,
        "name": "web",
        "active": True,
        "events": events or ["push", "issue_comment"],
        "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
        "updated_at": iso(now()),
        "created_at": iso(now()),
    }
    if app_id is not None:
        hook["app_id"] = app_id
    payload: dict[str, Any] = {"zen": "Keep it logically awesome.", "hook_id": hook_id, "hook": hook}
    if fake is not None and full_name is not None:
        payload["repository"] = fake.repo(full_name)
    if fake is not None and sender is not None:
        payload["sender"] = fake.user_json_of(sender)
    return payload
