"""A scripted OpenAI-compatible chat server on loopback, for tests and demos without a real model.

The real `openai` client talks to it over HTTP. What it answers, first match wins:
0. the server's behaviour (`Behaviour`): which request shapes it refuses and how (structured outputs
   with 400, 422 or 500, `strict`, `max_completion_tokens`, JSON mode), its context length and
   whether `/props` or `/v1/models` tell it, as real servers differ;
1. per-test rules (`server.script(rule)`): any reply, including 429/500 errors, slow answers,
   malformed bodies, refusals, truncated or huge answers, hostile plans;
2. recorded exchanges (tests/data/llm_exchanges/*.json): a model's real-quality answers for
   particular papers, matched by paper id, stage and repair attempt;
3. a stand-in model that answers triage and plans with lit2code's offline planner, so a whole
   digest can run through `--planner llm` (slots keep the family defaults).

Usage is counted as a real server would (prompt and completion tokens, ~4 characters a token).

Run it on its own:  python tests/openai_stub.py --port 8765
then:               OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=x lit2code run --planner llm ...
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EXCHANGES = Path(__file__).resolve().parent / "data" / "llm_exchanges"
KINDS = ("GenericRepairAnswer", "GenericPlanAnswer", "RepairAnswer", "PlanAnswer", "TriageAnswer", "ProbeAnswer")


@dataclass
class Request:
    """One chat request as the server saw it."""

    body: dict[str, Any]
    kind: str  # the answer schema asked for: TriageAnswer, PlanAnswer, ...
    paper_id: str | None
    attempt: int | None  # the repair attempt, for RepairAnswer
    corrective: bool  # a corrective retry after an invalid answer
    mode: str  # json_schema, json_object or text (no response_format)

    @property
    def strict(self) -> bool:
        return bool((self.body.get("response_format") or {}).get("json_schema", {}).get("strict"))

    @property
    def token_param(self) -> str | None:
        return next((k for k in ("max_completion_tokens", "max_tokens") if k in self.body), None)

    @property
    def prompt_tokens(self) -> int:
        """Tokens as this server counts them: four characters each."""
        return max(1, len(self.text) // 4)

    @property
    def text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class Reply:
    """What to send back. `content` becomes the assistant message; `raw` replaces the whole body."""

    content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)
    usage: bool = True

    @staticmethod
    def answer(obj: Any) -> Reply:
        return Reply(content=json.dumps(obj))

    @staticmethod
    def error(status: int, message: str, **headers: str) -> Reply:
        body = json.dumps({"error": {"message": message, "type": "scripted", "code": status}}).encode()
        return Reply(status=status, raw=body, headers=headers)


Rule = Callable[[Request], Reply | None]


# -- how a server differs from OpenAI: refusals, context ------------------------------------------
Refusal = Literal["400", "422", "500"]


@dataclass
class Behaviour:
    """A server's capabilities, and how it says no, as real servers do (first that applies wins)."""

    json_schema: Refusal | None = None  # how it refuses structured outputs (None: it supports them)
    strict: bool = True  # accepts `strict` in json_schema
    json_object: bool = True  # accepts JSON mode
    max_completion_tokens: bool = True  # knows `max_completion_tokens` (else only `max_tokens`)
    context: int | None = None  # context length in tokens (4 characters each); None: unlimited
    advertise: Literal["props", "models"] | None = None  # where it tells its context (llama.cpp: both)
    chatty: bool = False  # without response_format it wraps its JSON in prose and a markdown fence

    def refuse(self, req: Request) -> Reply | None:
        body = req.body
        if req.mode == "json_schema" and self.json_schema == "400":
            return Reply.error(400, 'response_format type must be one of "text" or "json_object", but got: json_schema')
        if req.mode == "json_schema" and self.json_schema == "422":
            return Reply(
                status=422,
                raw=json.dumps(
                    {
                        "detail": [
                            {
                                "type": "literal_error",
                                "loc": ["body", "response_format", "type"],
                                "msg": "Input should be 'text' or 'json_object'",
                                "input": "json_schema",
                            }
                        ]
                    }
                ).encode(),
            )
        if req.mode == "json_schema" and self.json_schema == "500":
            return Reply.error(500, "internal error while applying response_format: json_schema is not implemented")
        if req.mode == "json_schema" and req.strict and not self.strict:
            return Reply.error(400, "Invalid parameter: 'response_format.json_schema.strict' is not supported")
        if req.mode == "json_object" and not self.json_object:
            return Reply.error(400, "response_format json_object is not supported by this model")
        if "max_completion_tokens" in body and not self.max_completion_tokens:
            return Reply.error(400, "Unrecognized request argument supplied: max_completion_tokens")
        if self.context is not None and req.prompt_tokens > self.context:
            if self.advertise:  # llama.cpp's own words, with its numbers
                return Reply(
                    status=400,
                    raw=json.dumps(
                        {
                            "error": {
                                "code": 400,
                                "message": f"request ({req.prompt_tokens} tokens) exceeds the available context "
                                f"size ({self.context} tokens), try increasing it",
                                "type": "exceed_context_size_error",
                                "n_prompt_tokens": req.prompt_tokens,
                                "n_ctx": self.context,
                            }
                        }
                    ).encode(),
                )
            return Reply.error(
                400,
                f"This model's maximum context length is {self.context} tokens. However, your messages resulted "
                f"in {req.prompt_tokens} tokens. Please reduce the length of the messages.",
            )
        return None


def parse_request(body: dict[str, Any]) -> Request:
    fmt = body.get("response_format") or {}
    messages = body.get("messages", [])
    last = str(messages[-1].get("content", "")) if messages else ""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    if fmt.get("type") == "json_schema":
        kind, mode = fmt.get("json_schema", {}).get("name", "?"), "json_schema"
    else:
        mode = "json_object" if fmt.get("type") == "json_object" else "text"
        kind = next((k for k in KINDS if f'"title": "{k}"' in last), "?")
    m = re.search(r"<paper>\s*(\{.*?\})\s*</paper>", text, re.S)
    paper_id = None
    if m:
        try:
            paper_id = json.loads(m.group(1)).get("paper_id")
        except json.JSONDecodeError:
            paper_id = None
    a = re.search(r"\(attempt (\d+)\)", text)
    corrective = len(messages) > 2 and messages[-2].get("role") == "assistant"
    return Request(body, kind, paper_id, int(a.group(1)) if a and "Repair" in kind else None, corrective, mode)


# -- the stand-in model: lit2code's offline planner behind the chat protocol -----------------------
def _paper_from(req: Request):
    from agent.models import Paper

    m = re.search(r"<paper>\s*(\{.*?\})\s*</paper>", req.text, re.S)
    data = json.loads(m.group(1)) if m else {}
    return Paper(
        paper_id=data.get("paper_id", "unknown"), title=data.get("title", ""), abstract=data.get("abstract", "")
    )


def offline_answer(req: Request) -> Reply:
    from agent.families import load_families
    from agent.llm.answers import MODULE_PATTERN, RESERVED_MODULES
    from agent.planners.offline import OfflinePlanner

    families = {k: v for k, v in load_families().items() if not v.llm_only}
    planner = OfflinePlanner()
    if req.kind == "TriageAnswer":
        paper = _paper_from(req)
        t = planner.triage(paper, families)
        from agent.planners.offline import method_name

        name, _ = method_name(paper)
        return Reply.answer(
            {
                "implementable": t.family != "skip",
                "family": t.family,
                "method_name": (name or "")[:60],
                "reason": t.reason[:600],
            }
        )
    if req.kind == "PlanAnswer":
        paper = _paper_from(req)
        fam = re.search(r"with lit2code's `([a-z-]+)` template", req.text)
        family = families[fam.group(1)] if fam and fam.group(1) in families else next(iter(families.values()))
        t = planner.triage(paper, {family.id: family})
        plan = planner.plan(paper, t, family)
        module = plan.module_name[:40]
        if not re.match(MODULE_PATTERN, module) or module in RESERVED_MODULES or module.startswith("test"):
            module = "method_impl"
        settings = [
            {"name": k, "value": str(v).lower() if isinstance(v, bool) else str(v), "evidence": plan.inferred[k][10:-1]}
            for k, v in plan.hyperparameters.items()
            if plan.inferred.get(k, "").startswith("abstract: '")
        ]
        return Reply.answer(
            {
                "method_name": plan.method_name[:60],
                "module_name": module,
                "class_name": plan.class_name[:48] if plan.class_name[:1].isupper() else "Method",
                "summary": plan.summary[:1500],
                "components": plan.components[:12],
                "not_implemented": plan.not_implemented[:12],
                "confidence": plan.confidence,
                "hyperparameters": settings,
                "options": plan.options,
                "slots": [],
            }
        )
    if req.kind == "RepairAnswer":
        return Reply.answer({"diagnosis": "no change proposed by the stand-in model", "slots": []})
    if req.kind == "ProbeAnswer":  # lit2code llm doctor
        return Reply.answer({"ok": True, "word": "ready"})
    if req.kind == "?" and req.mode == "text":  # a plain request (the doctor's speed check)
        return Reply(content=" ".join(str(i) for i in range(1, 61)))
    return Reply.error(400, f"the stand-in model cannot answer {req.kind}")


def recorded_answer(req: Request, folder: Path = EXCHANGES) -> Reply | None:
    """A recorded exchange for this paper and stage (and repair attempt), if one exists."""
    if req.paper_id is None or not folder.is_dir():
        return None
    path = folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', req.paper_id)}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    stage = {"TriageAnswer": "triage", "PlanAnswer": "plan", "GenericPlanAnswer": "plan"}.get(req.kind, "repair")
    for ex in record["exchanges"]:
        if ex["stage"] == stage and (stage != "repair" or ex.get("attempt", 1) == req.attempt):
            return Reply.answer(ex["answer"])
    return None


# -- recording a real server's answers, and replaying them ----------------------------------------
def exchange_key(req: Request) -> list[Any]:
    return [req.paper_id, req.kind, req.corrective, req.attempt, req.mode]


def forwarding(upstream: str, log: list[dict[str, Any]]) -> Rule:
    """Every chat request goes to `upstream` (a real server) and its reply comes back as it was, logged."""
    import httpx

    def rule(req: Request) -> Reply:
        resp = httpx.post(upstream.rstrip("/") + "/chat/completions", json=req.body, timeout=1800)
        log.append({"key": exchange_key(req), "status": resp.status_code, "response": resp.json()})
        return Reply(raw=resp.content, status=resp.status_code)

    return rule


def replaying(exchanges: list[dict[str, Any]], unmatched: list[Request]) -> Rule:
    """Answer each request with the recorded reply to the same request (same paper, answer schema,
    corrective retry or not, repair attempt and response format), each used once, in order."""
    pending = list(exchanges)
    lock = threading.Lock()

    def rule(req: Request) -> Reply:
        with lock:
            for i, ex in enumerate(pending):
                if ex["key"] == exchange_key(req):
                    pending.pop(i)
                    return Reply(raw=json.dumps(ex["response"]).encode(), status=ex["status"])
        unmatched.append(req)
        return Reply.error(418, f"no recorded exchange for {exchange_key(req)}")

    return rule


# -- the server ------------------------------------------------------------------------------------
class ScriptedServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        exchanges: Path | None = EXCHANGES,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.rules: list[Rule] = []
        self.requests: list[Request] = []
        self.gets: list[str] = []
        self.upstream: str | None = None  # forward GETs to this server (see forwarding())
        self.canned_gets: dict[str, Any] = {}  # path -> JSON body, for GETs recorded from a real server
        self.exchanges = exchanges
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                b = server.behaviour
                with server._lock:
                    server.gets.append(self.path)
                if self.path in server.canned_gets:  # replayed from a recording
                    self._send(200, json.dumps(server.canned_gets[self.path]).encode())
                    return
                if server.upstream:  # recording: the real server answers
                    import httpx

                    resp = httpx.get(re.sub(r"/v1/?$", "", server.upstream) + self.path, timeout=30)
                    if resp.status_code == 200:
                        server.canned_gets[self.path] = resp.json()
                    self._send(resp.status_code, resp.content)
                    return
                if self.path.rstrip("/").endswith("/models"):
                    entry: dict[str, Any] = {"id": "stub", "object": "model"}
                    if b.advertise == "models" and b.context:
                        entry["meta"] = {"n_ctx": b.context, "n_ctx_train": b.context * 2}
                    self._send(200, json.dumps({"object": "list", "data": [entry]}).encode())
                elif self.path.rstrip("/") == "/props" and b.advertise == "props" and b.context:
                    props = {"default_generation_settings": {"n_ctx": b.context}, "total_slots": 1}
                    self._send(200, json.dumps(props).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(400, b'{"error": {"message": "request body is not JSON"}}')
                    return
                req = parse_request(body)
                with server._lock:
                    server.requests.append(req)
                reply = server.behaviour.refuse(req) or server.reply_for(req)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.raw is not None:
                    self._send(reply.status, reply.raw, reply.headers)
                    return
                if server.behaviour.chatty and req.mode == "text" and reply.content:
                    reply = dataclasses.replace(
                        reply, content=f"Sure! Here is the JSON:\n```json\n{reply.content}\n```\nAnything else?"
                    )
                self._send(reply.status, server.completion(req, reply), reply.headers)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, rule: Rule) -> None:
        self.rules.append(rule)

    def reply_for(self, req: Request) -> Reply:
        for rule in list(self.rules):
            reply = rule(req)
            if reply is not None:
                return reply
        if self.exchanges is not None:
            recorded = recorded_answer(req, self.exchanges)
            if recorded is not None:
                return recorded
        return offline_answer(req)

    @staticmethod
    def completion(req: Request, reply: Reply) -> bytes:
        content = reply.content
        prompt_tokens = req.prompt_tokens
        completion_tokens = len(content or reply.refusal or "") // 4
        out: dict[str, Any] = {
            "id": f"chatcmpl-stub-{int(time.time() * 1000)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.body.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": reply.refusal},
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if reply.usage:
            out["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return json.dumps(out).encode()

    def calls(self, kind: str | None = None, paper_id: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (kind is None or r.kind == kind) and (paper_id is None or r.paper_id == paper_id)
            ]

    def start(self) -> ScriptedServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--no-exchanges", action="store_true", help="answer everything with the stand-in model")
    args = ap.parse_args(argv)
    server = ScriptedServer(args.host, args.port, exchanges=None if args.no_exchanges else EXCHANGES)
    print(f"scripted OpenAI-compatible server at {server.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.httpd.serve_forever()


if __name__ == "__main__":
    main()
