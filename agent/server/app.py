"""The ASGI app: `POST /github/webhook`, `GET /healthz`, `GET /runs`, `GET /runs/{id}`.

The webhook reads the raw body (at most MAX_BODY bytes: 413 beyond), verifies `X-Hub-Signature-256` over
exactly those bytes before anything parses them (401 otherwise, and nothing is queued), then answers 202
once the job is in the durable queue, or 2xx with the reason for a delivery lit2code ignores. Work happens
in the workers (agent.server.worker), never in the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent.github import events
from agent.models import RUN_ID_PATTERN
from agent.settings import Settings
from agent.workflow import runs
from agent.workflow.jobs import Job, JobQueue

MAX_BODY = 2 * 1024 * 1024  # GitHub sends at most 25 MB; lit2code's events are far smaller
log = logging.getLogger("lit2code.server")


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Does `header` carry the HMAC-SHA256 of `body` under `secret`? Compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (never buffered beyond it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    env: Settings,
    queue: JobQueue,
    on_queued: Callable[[Job], None] = lambda job: None,
) -> Starlette:
    """`on_queued` runs (off the request) for each new job: wake a worker, announce the job on GitHub."""
    assert env.github_webhook_secret is not None, "lit2code serve refuses to start without a webhook secret"
    secret = env.github_webhook_secret.get_secret_value().encode()
    allowed = env.allowed_repos()

    async def webhook(request: Request) -> JSONResponse:
        body = await _read_capped(request, MAX_BODY)
        if body is None:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        if not verify(secret, body, request.headers.get("x-hub-signature-256")):
            return JSONResponse({"error": "X-Hub-Signature-256 missing or wrong"}, status_code=401)
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        if not event or not delivery:
            return JSONResponse({"error": "X-GitHub-Event and X-GitHub-Delivery are required"}, status_code=400)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"error": f"the body is not JSON: {exc}"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "the body is not a JSON object"}, status_code=400)
        decision = events.accept(event, payload, allowed)
        if isinstance(decision, events.Ignored):
            queue.note_delivery(delivery, event)
            log.info("delivery %s (%s) ignored: %s", delivery, event, decision.reason)
            return JSONResponse({"ignored": decision.reason, "delivery": delivery}, status_code=200)
        job, created = queue.enqueue(
            delivery, event, decision.key, decision.repo, decision.kind, decision.payload, decision.lane
        )
        log.info("delivery %s (%s): job %s%s", delivery, event, job.id, "" if created else " (already queued)")
        if created:
            threading.Thread(target=on_queued, args=(job,), daemon=True, name=f"lit2code-queued-{job.id}").start()
        return JSONResponse(
            {"job": job.id, "status": job.status, "duplicate": not created, "delivery": delivery}, status_code=202
        )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "jobs": queue.counts()})

    async def list_runs(request: Request) -> JSONResponse:
        rows: list[dict[str, Any]] = []
        for rid in runs.list_runs():
            rep = runs.run_dir(rid) / "report.json"
            data = json.loads(rep.read_text()) if rep.exists() else {}
            rows.append({"run_id": rid, "finished_at": data.get("finished_at"), "totals": data.get("totals")})
        return JSONResponse({"runs": rows, "jobs": [_job_json(j) for j in queue.list(limit=50)]})

    async def get_run(request: Request) -> JSONResponse:
        run_id = request.path_params["run_id"]
        import re

        if not re.fullmatch(RUN_ID_PATTERN, run_id):
            return JSONResponse({"error": "not a run id"}, status_code=404)
        rep = runs.run_dir(run_id) / "report.json"
        if not rep.exists():
            return JSONResponse({"error": f"no run {run_id}"}, status_code=404)
        return JSONResponse(json.loads(rep.read_text()))

    return Starlette(
        routes=[
            Route("/github/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/runs", list_runs, methods=["GET"]),
            Route("/runs/{run_id}", get_run, methods=["GET"]),
        ]
    )


def _job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "repo": job.repo,
        "kind": job.kind,
        "status": job.status,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "result": job.result,
    }
