"""A fake GitHub on loopback that speaks the real protocol (REST shapes, errors, pagination, rate-limit headers,
App JWT auth, git smart-HTTP through `git http-backend`), plus signed webhook deliveries. See README.md."""

from .model import ApiError, Identity, RecordedRequest
from .remote import FakeGitHubProcess, RemoteFake
from .server import FakeGitHub
from .webhooks import (
    Delivery,
    build_delivery,
    issue_comment_payload,
    ping_payload,
    push_payload,
    redeliver,
    send,
    sign,
)

__all__ = [
    "ApiError",
    "Delivery",
    "FakeGitHub",
    "FakeGitHubProcess",
    "Identity",
    "RecordedRequest",
    "RemoteFake",
    "build_delivery",
    "issue_comment_payload",
    "ping_payload",
    "push_payload",
    "redeliver",
    "send",
    "sign",
]
