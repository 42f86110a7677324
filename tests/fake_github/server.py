"""The fake GitHub's HTTP side: one ASGI app (REST under /api/v3, git smart-HTTP, /_fake control) on uvicorn."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from . import gitrepo, rest
from .model import ApiError, Fault, Identity, PushRecord, RecordedRequest, Token
from .state import FakeState

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

API_PREFIX = "/api/v3"
API_VERSIONS = ("2022-11-28", "2026-03-10")
GIT_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+?)(?:\.git)?/(?P<rest>info/refs|git-upload-pack|git-receive-pack)$"
)
MAX_BODY = 25 * 1024 * 1024


RECORDED_HEADERS = ("accept", "content-type", "content-encoding", "transfer-encoding", "git-protocol", "if-none-match")


def _picked(headers: dict[str, str]) -> dict[str, str]:
    return {k: headers[k] for k in RECORDED_HEADERS if k in headers}


def _request_id() -> str:
    return ":".join(secrets.token_hex(n).upper() for n in (2, 3, 4, 4, 4))


async def _send(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int = MAX_BODY) -> bytes:
    chunks, size = [], 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "Request body too large")
        chunks.append(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)


class FakeGitHubASGI:
    """Routes a request to the control API, git smart-HTTP or the REST endpoints, and records it."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_fake/"):
            await self.control(scope, receive, send)
        elif m := GIT_PATH.match(path):
            await self.git(scope, receive, send, m.group("owner"), m.group("repo"), m.group("rest"))
        elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self.rest(scope, receive, send, path[len(API_PREFIX) :] or "/")
        else:
            await _send(send, 404, {"content-type": "text/plain; charset=utf-8"}, b"Not Found\n")

    # ------------------------------------------------------------------ helpers
    def _record(self, **kw: Any) -> None:
        st = self.state
        with st.lock:
            st.recorded.append(RecordedRequest(seq=len(st.recorded) + 1, **kw))

    def _take_fault(self, method: str, endpoint: str, path: str) -> Fault | None:
        st = self.state
        with st.lock:
            for fault in st.faults:
                if fault.matches(method, endpoint, path):
                    fault.times -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ REST
    async def rest(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        st = self.state
        started = time.monotonic()
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        route, params, other_method = rest.match(method, path.rstrip("/") or "/")
        endpoint = route.endpoint if route else f"{method} {path}"
        identity: Identity = Identity("anonymous")
        identity_label = "anonymous"
        parsed: Any = None
        base_headers = {
            "content-type": "application/json; charset=utf-8",
            "x-github-request-id": _request_id(),
            "x-github-media-type": "github.v3; format=json",
            "server": "github.com",
            "x-content-type-options": "nosniff",
        }
        fault_hit = False
        try:
            raw = await _read_body(receive)
            identity, token = await asyncio.to_thread(rest.authenticate, st, headers.get("authorization"))
            identity_label = identity.describe()
            version = headers.get("x-github-api-version")
            if version is not None and version not in API_VERSIONS:
                raise ApiError(400, f"API version {version} is not supported.")
            base_headers["x-github-api-version-selected"] = version or "2022-11-28"
            parsed = rest.body_json(raw) if method in ("POST", "PATCH", "PUT", "DELETE") else None
            if route is None:
                raise ApiError(404 if not other_method else 404, "Not Found")
            fault = self._take_fault(method, endpoint, path)
            if fault is not None:
                fault_hit = True
                if fault.delay_s:
                    await asyncio.sleep(fault.delay_s)
                fault_hit = bool(fault.status)
            if fault is not None and fault.status:
                status, body, extra = self._fault_reply(fault, identity)
            else:
                self._check_auth_mode(route, identity)
                limit, remaining, reset, used = st.rate_status(identity)
                if remaining <= 0:
                    raise ApiError(
                        403,
                        st.rate_limited_message(identity),
                        doc="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    )
                ctx = rest.Ctx(st, method, path, endpoint, params, query, headers, parsed, identity, token)
                reply = await asyncio.to_thread(route.handler, ctx)
                status, body, extra = reply.status, reply.body, reply.headers
        except ApiError as exc:
            status, body, extra = exc.status, exc.body(), exc.headers
            if exc.status == 401:
                identity_label = "invalid" if headers.get("authorization") else "anonymous"

        def record(final_status: int) -> None:
            self._record(
                time=time.time(),
                kind="rest",
                method=method,
                path=path,
                endpoint=endpoint,
                query=query,
                status=final_status,
                identity=identity_label,
                login=identity.login,
                token=identity.token or _bearer(headers.get("authorization")),
                json=parsed,
                user_agent=headers.get("user-agent"),
                api_version=headers.get("x-github-api-version"),
                fault=fault_hit,
                duration_s=time.monotonic() - started,
                request_headers=_picked(headers),
            )

        # recorded before the answer leaves, so a client that got its answer always finds its request recorded
        await self._finish_rest(
            send,
            status,
            body,
            base_headers | extra,
            identity,
            record,
            count=not (route is not None and route.endpoint == "GET /rate_limit"),
            etag_check=headers.get("if-none-match") if method == "GET" else None,
        )

    def _check_auth_mode(self, route: rest.Route, identity: Identity) -> None:
        if route.auth == "app" and identity.kind != "app":
            raise ApiError(401, rest.JWT_NOT_DECODED)
        if route.auth in ("token", "user", "installation") and identity.kind == "anonymous":
            raise ApiError(401, "Requires authentication")
        if route.auth in ("token", "user", "installation", "any") and identity.kind == "app":
            raise ApiError(403, "Resource not accessible by integration")
        if route.auth == "installation" and identity.kind != "installation":
            raise ApiError(
                403,
                "You must authenticate with an installation access token in order to list repositories for an "
                "installation.",
            )

    def _fault_reply(self, fault: Fault, identity: Identity) -> tuple[int, Any, dict[str, str]]:
        st = self.state
        extra = dict(fault.headers)
        if fault.rate_limit == "primary":
            limit, _, _, used = st.rate_status(identity)
            extra |= {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(limit),
                "x-ratelimit-reset": str(int(st.now()) + fault.retry_after),
                "x-ratelimit-resource": "core",
            }
            body = fault.body or {
                "message": st.rate_limited_message(identity),
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": str(fault.status),
            }
            return fault.status, body, extra
        if fault.rate_limit == "secondary":
            extra["retry-after"] = str(fault.retry_after)
            body = fault.body or {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                "If you reach out to GitHub Support for help, please include the request ID "
                f"{_request_id()}.",
                "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": str(fault.status),
            }
            return fault.status, body, extra
        if fault.body is not None:
            return fault.status, fault.body, extra
        if fault.status >= 500:
            extra["content-type"] = "text/html; charset=utf-8"
            return (
                fault.status,
                b"<html><body><h1>" + str(fault.status).encode() + b" Server Error</h1></body></html>",
                extra,
            )
        return (
            fault.status,
            {"message": "Injected failure", "documentation_url": rest.DOCS, "status": str(fault.status)},
            extra,
        )

    async def _finish_rest(
        self,
        send: Send,
        status: int,
        body: Any,
        headers: dict[str, str],
        identity: Identity,
        record: Callable[[int], None],
        *,
        count: bool,
        etag_check: str | None = None,
    ) -> int:
        st = self.state
        if isinstance(body, bytes):
            data = body
        elif body is None:
            data = b""
        else:
            data = json.dumps(body, ensure_ascii=False).encode()
        etag = None
        if status == 200:
            etag = 'W/"' + hashlib.sha256(data).hexdigest()[:40] + '"'
            headers |= {
                "etag": etag,
                "cache-control": "private, max-age=60, s-maxage=60",
                "vary": "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding",
            }
        not_modified = (
            etag is not None and etag_check is not None and etag in [e.strip() for e in etag_check.split(",")]
        )
        if "x-ratelimit-remaining" not in headers:
            limit, remaining, reset, used = st.rate_status(identity, count=count and not not_modified)
            headers |= {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-used": str(used),
                "x-ratelimit-resource": "core",
            }
        if not_modified:
            headers.pop("content-type", None)
            record(304)
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [(k.encode(), v.encode("latin-1")) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return 304
        if status == 204:
            headers.pop("content-type", None)
            data = b""
        record(status)
        await _send(send, status, headers, data)
        return status

    # ------------------------------------------------------------------ git smart HTTP
    async def git(self, scope: Scope, receive: Receive, send: Send, owner: str, name: str, rest_path: str) -> None:
        st = self.state
        started = time.monotonic()
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(query_string))
        service = query.get("service") if rest_path == "info/refs" else rest_path
        endpoint = service or "git-dumb"
        identity_label, login, token_value = "anonymous", None, None

        async def reply(status: int, text: str, extra: dict[str, str] | None = None, fault: bool = False) -> None:
            self._record(
                time=time.time(),
                kind="git",
                method=method,
                path=scope["path"],
                endpoint=endpoint,
                query=query,
                status=status,
                identity=identity_label,
                login=login,
                token=token_value,
                duration_s=time.monotonic() - started,
                request_headers=_picked(headers),
                user_agent=headers.get("user-agent"),
                fault=fault,
            )
            await _send(send, status, {"content-type": "text/plain; charset=utf-8", **(extra or {})}, text.encode())

        challenge = {"www-authenticate": 'Basic realm="GitHub"'}
        if service not in ("git-upload-pack", "git-receive-pack"):
            await reply(403, "Please upgrade your git client.\nGitHub.com no longer supports git over dumb-http.\n")
            return
        if (method == "GET") != (rest_path == "info/refs"):
            await reply(405, "Method Not Allowed\n")
            return
        write = service == "git-receive-pack"
        token: Token | None = None
        auth = headers.get("authorization")
        if auth:
            token_value = _basic_password(auth)
            with st.lock:
                token = st.tokens.get(token_value or "")
                if token is None or token.expired(st.now()):
                    identity_label = "invalid"
                    token = None
            if token is None:
                await reply(
                    401,
                    "Invalid username or token. Password authentication is not supported for Git operations.\n",
                    challenge,
                )
                return
            login = token.login
            identity_label = (
                f"installation:{token.installation_id}" if token.kind == "installation" else f"user:{token.login}"
            )
        with st.lock:
            repo = st.find_repo(owner, name)
            if token is None:
                allowed = "challenge" if repo is None or repo.private or write else "ok"
            elif repo is None or not st.token_reaches(token, repo):
                allowed = "not-found"
            else:
                need = "write" if write else "read"
                perm = token.permissions.get("contents", "none") if token.kind != "classic" else "write"
                level = {"none": 0, "read": 1, "write": 2}
                role_ok = token.kind == "installation" or (
                    not write or st.role_of(token.login, repo) in ("write", "maintain", "admin")
                )
                allowed = "ok" if level.get(perm, 0) >= level[need] and role_ok else "denied"
        if allowed == "challenge":
            await reply(401, "Authentication required\n", challenge)
            return
        if allowed == "not-found":
            await reply(404, "Repository not found.\n")
            return
        if allowed == "denied":
            assert repo is not None
            await reply(403, f"Permission to {repo.full_name}.git denied to {login}.\n")
            return
        assert repo is not None
        fault = self._take_fault(method, endpoint, scope["path"])
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status:
                await reply(fault.status, "Injected failure\n", fault=True)
                return
        gdir = st.git_dir(repo)
        workflows = "write"
        actor_kind = "a GitHub App"
        if token is not None:
            if token.kind == "classic":
                workflows = "write" if "workflow" in token.scopes else "none"
                actor_kind = "a Personal Access Token"
            else:
                workflows = token.permissions.get("workflows", "none")
                actor_kind = "a GitHub App" if token.kind == "installation" else "a Personal Access Token"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(st.state_dir),
            "GIT_PROJECT_ROOT": str(st.repos_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "PATH_INFO": f"/{repo.owner.lower()}/{repo.name.lower()}.git/{rest_path}",
            "REQUEST_METHOD": method,
            "QUERY_STRING": query_string,
            "CONTENT_TYPE": headers.get("content-type", ""),
            "REMOTE_ADDR": "127.0.0.1",
            "FAKE_GITHUB_WORKFLOWS": workflows,
            "FAKE_GITHUB_ACTOR_KIND": actor_kind,
        }
        if login:
            env["REMOTE_USER"] = login
        if "content-length" in headers:
            env["CONTENT_LENGTH"] = headers["content-length"]
        if "content-encoding" in headers:
            env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
        if "git-protocol" in headers:
            env["GIT_PROTOCOL"] = headers["git-protocol"]
        before = await asyncio.to_thread(gitrepo.refs, gdir) if write and method == "POST" else None
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr

        async def pump() -> None:
            try:
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        break
                    chunk = msg.get("body", b"")
                    if chunk:
                        stdin.write(chunk)
                        await stdin.drain()
                    if not msg.get("more_body"):
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                stdin.close()

        pump_task = asyncio.create_task(pump())
        err_task = asyncio.create_task(stderr.read())
        head = b""
        while b"\r\n\r\n" not in head and b"\n\n" not in head:
            chunk = await stdout.read(65536)
            if not chunk:
                break
            head += chunk
        sep = b"\r\n\r\n" if b"\r\n\r\n" in head else b"\n\n"
        header_blob, _, rest_bytes = head.partition(sep)
        status = 200
        out_headers: list[tuple[bytes, bytes]] = []
        for line in header_blob.decode("latin-1").splitlines():
            if ":" not in line:
                continue
            key, value = line.split(":", 1)
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            else:
                out_headers.append((key.strip().lower().encode(), value.strip().encode("latin-1")))
        out_headers.append((b"x-github-request-id", _request_id().encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        if rest_bytes:
            await send({"type": "http.response.body", "body": rest_bytes, "more_body": True})
        while True:
            chunk = await stdout.read(65536)
            if not chunk:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await pump_task
        await err_task
        await proc.wait()
        if before is not None:
            after = await asyncio.to_thread(gitrepo.refs, gdir)
            with st.lock:
                for ref in sorted(set(before) | set(after)):
                    if before.get(ref) != after.get(ref):
                        st.push_log.append(
                            PushRecord(
                                repo.full_name,
                                ref,
                                before.get(ref, gitrepo.ZERO_SHA),
                                after.get(ref, gitrepo.ZERO_SHA),
                                login,
                            )
                        )
                        repo.pushed_at = st.now()
            for ref in sorted(set(before) | set(after)):
                if before.get(ref) != after.get(ref) and ref.startswith("refs/heads/"):
                    self._emit_push(repo.full_name, ref, before.get(ref), after.get(ref), login)
        self._record(
            time=time.time(),
            kind="git",
            method=method,
            path=scope["path"],
            endpoint=endpoint,
            query=query,
            status=status,
            identity=identity_label,
            login=login,
            token=token_value,
            duration_s=time.monotonic() - started,
            request_headers=_picked(headers),
            user_agent=headers.get("user-agent"),
            fault=False,
        )
        await send({"type": "http.response.body", "body": b""})

    def _emit_push(self, full_name: str, ref: str, old: str | None, new: str | None, login: str | None) -> None:
        from .webhooks import ZERO, push_payload

        st = self.state
        pusher = login if login and login.lower() in st.users else None
        if pusher is None or new is None:
            return  # branch deletions and anonymous pushes are not modelled as events
        st.emit(
            "push",
            lambda installation_id: push_payload(
                st, full_name, before=old or ZERO, after=new, ref=ref, pusher=pusher, installation_id=installation_id
            ),
        )

    # ------------------------------------------------------------------ control API
    async def control(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        headers = {"content-type": "application/json"}
        if path == "/_fake/health":
            await _send(send, 200, headers, b'{"ok": true}')
            return
        name = path.removeprefix("/_fake/call/")
        if scope["method"] != "POST" or name not in FakeState.CONTROL_METHODS:
            await _send(send, 404, headers, json.dumps({"error": f"no control method {name}"}).encode())
            return
        raw = await _read_body(receive)
        try:
            payload = json.loads(raw or b"{}")
            result = await asyncio.to_thread(
                getattr(self.state, name), *payload.get("args", []), **payload.get("kwargs", {})
            )
        except Exception as exc:  # the control API answers any failure as a 400 with its message
            await _send(send, 400, headers, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            return
        await _send(send, 200, headers, json.dumps({"result": result}).encode())


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        return _basic_password(header)
    return value.strip() or None


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return value.strip() or None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if password and password != "x-oauth-basic" else user


class FakeGitHub(FakeState):
    """The fake GitHub: its state plus a uvicorn server in a background thread of the test process.

    >>> with FakeGitHub(tmp_path / "github") as gh:
    ...     gh.add_user("alice"); gh.create_repo("alice/digests", files={"README.md": "hi"})
    ...     gh.api_url  # http://127.0.0.1:PORT/api/v3 ; clones at gh.url + "/alice/digests.git"
    """

    def __init__(self, state_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(state_dir)
        self._host, self._port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.base_url

    def start(self) -> FakeGitHub:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        port = sock.getsockname()[1]
        self.base_url = f"http://{self._host}:{port}"
        config = uvicorn.Config(
            FakeGitHubASGI(self),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-github", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake GitHub server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(state_dir: Path | str, host: str, port: int, ready: Callable[[FakeGitHub], None]) -> None:
    """Run a fake in the foreground (the subprocess entry point) until interrupted."""
    fake = FakeGitHub(state_dir, host=host, port=port).start()
    ready(fake)
    try:
        assert fake._thread is not None
        while fake._thread.is_alive():
            fake._thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
