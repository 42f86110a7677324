"""The client side of the fork server (agent/sandbox/zygote.py): start one, wait until it is warm,
send it validations, and keep a pool of them. Backends give it a byte channel (a subprocess's pipes, a
Docker exec's socket); the protocol is one JSON line each way.

Nothing here decides a verdict on its own: a warm path that fails in any way (no ready line, a broken
reply, a reply that is late) raises `WarmError`, and the backend runs that validation cold instead.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agent.models import SandboxResult
from agent.sandbox import zygote
from agent.sandbox.base import SandboxError

READY_TIMEOUT_S = 180.0  # importing torch on a loaded 2-core machine, in a container just started
REPLY_GRACE_S = 30.0  # beyond the validation's own timeout: the server kills and sweeps before replying
RECYCLE_AFTER = 25  # validations one warm worker serves before it is replaced


def source() -> str:
    """The fork server's program, to run with `python -c` where lit2code itself is not installed."""
    return inspect.getsource(zygote)


class WarmError(SandboxError):
    """The warm path failed for this validation: run it cold."""


class Reply(BaseModel):
    exit_code: int
    timed_out: bool
    oom_killed: bool
    duration_s: float
    stdout: str
    stderr: str
    truncated: bool
    files: dict[str, str] = Field(default_factory=dict)
    anomalies: list[str] = Field(default_factory=list)

    def output(self) -> tuple[str, str]:
        return (
            base64.b64decode(self.stdout).decode("utf-8", "replace"),
            base64.b64decode(self.stderr).decode("utf-8", "replace"),
        )

    def collected(self) -> dict[str, bytes]:
        return {name: base64.b64decode(data) for name, data in self.files.items()}

    def result(self, *, backend: str, trusted: bool, image: str | None, gpu_note: str) -> SandboxResult:
        """The reply in `exec`'s contract, with the mode it ran in and why its worker was retired, if it was."""
        stdout, stderr = self.output()
        return SandboxResult(
            exit_code=self.exit_code,
            timed_out=self.timed_out,
            oom_killed=self.oom_killed,
            duration_s=self.duration_s,
            stdout=stdout,
            stderr=stderr,
            stdout_truncated=self.truncated,
            backend=backend,
            image=image,
            gpu=False,
            gpu_note=gpu_note,
            mode="warm" if trusted else "pooled",
            mode_note=f"worker retired: {'; '.join(self.anomalies)}" if self.anomalies else None,
        )


class Channel:
    """Lines to and from a fork server: `send` writes bytes, and a reader thread calls `feed` with what
    arrives; complete lines are queued for `receive`."""

    def __init__(self, send: Callable[[bytes], None], close: Callable[[], None]) -> None:
        self._send = send
        self._close = close
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._partial = bytearray()

    def feed(self, data: bytes | None) -> None:
        """Called by the reader with each chunk of the server's stdout; None at its end."""
        if data is None:
            self._lines.put(None)
            return
        self._partial += data
        while (nl := self._partial.find(b"\n")) >= 0:
            self._lines.put(bytes(self._partial[:nl]))
            del self._partial[: nl + 1]

    def send(self, obj: dict[str, Any]) -> None:
        try:
            self._send(json.dumps(obj).encode() + b"\n")
        except OSError as exc:
            raise WarmError(f"the fork server's input is closed ({exc})") from exc

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise WarmError(f"no answer from the fork server within {timeout:.0f} s") from None
        if line is None:
            raise WarmError("the fork server exited")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise WarmError(f"the fork server sent a broken line ({exc})") from exc
        if not isinstance(obj, dict):
            raise WarmError("the fork server sent something that is not an object")
        return obj

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._close()


class Worker:
    """One running fork server. `run` serves one validation; `retire` ends the worker."""

    def __init__(self, channel: Channel, retire: Callable[[], None], label: str) -> None:
        self.channel = channel
        self._retire = retire
        self.label = label
        self.served = 0
        self.broken: str | None = None  # why it must not serve again
        self.started = time.monotonic()
        self.warm_s: float | None = None
        self.handle = ""  # the backend's name for where it runs (a container id)
        self.expires = float("inf")  # monotonic time after which it may be gone (a container's lifetime)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        hello = self.channel.receive(timeout)
        if not hello.get("ready"):
            raise WarmError(f"the fork server did not get warm: {hello.get('error', hello)}")
        self.warm_s = hello.get("warm_s")

    def run(self, request: dict[str, Any]) -> Reply:
        """One validation; WarmError (and the worker marked broken) when the server failed it."""
        try:
            self.channel.send(request)
            raw = self.channel.receive(float(request["timeout"]) + REPLY_GRACE_S)
            if "error" in raw:
                raise WarmError(f"the fork server failed the request: {raw['error']}")
            reply = Reply.model_validate(raw)
        except (WarmError, ValidationError) as exc:
            self.broken = str(exc)
            raise exc if isinstance(exc, WarmError) else WarmError(f"a reply that is not one: {exc}") from exc
        self.served += 1
        if reply.anomalies:
            self.broken = "; ".join(reply.anomalies)
        return reply

    def retire(self) -> None:
        self.channel.close()
        with contextlib.suppress(Exception):
            self._retire()


class WorkerPool:
    """Idle workers waiting for a validation, made by `make` (which blocks until the worker is warm).

    `reuse`: a worker goes back to the pool after a clean validation, up to RECYCLE_AFTER, and is retired
    at once after any anomaly. Without `reuse` (untrusted code) each worker serves once and is replaced.
    `ahead` workers are kept started in the background, so the start-up is off the critical path.
    """

    def __init__(self, make: Callable[[], Worker], *, reuse: bool, ahead: int = 0) -> None:
        self._make = make
        self.reuse = reuse
        self.ahead = ahead
        self._idle: list[Worker] = []
        self._cond = threading.Condition()
        self._starting = 0
        self._closed = False
        self._threads: set[threading.Thread] = set()
        self.started_count = 0
        self.errors: list[str] = []

    def _background(self, target: Callable[[], None], name: str) -> None:
        def run() -> None:
            try:
                target()
            finally:
                with self._cond:
                    self._threads.discard(thread)

        thread = threading.Thread(target=run, daemon=True, name=name)
        with self._cond:
            self._threads.add(thread)
        thread.start()

    def _start_one(self) -> None:
        try:
            worker = self._make()
        except Exception as exc:  # noqa: BLE001 - a worker that cannot start leaves the cold path
            with self._cond:
                self.errors.append(str(exc))
                self._starting -= 1
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self.started_count += 1
            closed = self._closed
            if not closed:
                self._idle.append(worker)
            self._cond.notify_all()
        if closed:
            worker.retire()

    def fill(self, target: int | None = None) -> None:
        """Start workers in the background until `target` (default `ahead`) are idle or starting."""
        with self._cond:
            if self._closed or (self.errors and not self.started_count):
                return  # nothing has ever started: do not keep trying in the background
            missing = max((self.ahead if target is None else target) - len(self._idle) - self._starting, 0)
            self._starting += missing
        for _ in range(missing):
            self._background(self._start_one, "lit2code-warm-start")

    def take(self, need_s: float = 0.0) -> Worker:
        """An idle worker that lives `need_s` more seconds (waiting for one being started, if any), else a
        new one started now. WarmError when there is none to be had."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        worker = None
        with self._cond:
            while worker is None and not self._closed:
                while self._idle and worker is None:
                    candidate = self._idle.pop()
                    if candidate.expires - time.monotonic() > need_s:
                        worker = candidate
                    else:
                        self._background(candidate.retire, "lit2code-warm-retire")
                if worker is None and self._starting and time.monotonic() < deadline:
                    self._cond.wait(timeout=max(deadline - time.monotonic(), 0.1))
                    continue
                break
            if self._closed:
                raise WarmError("the worker pool is closed")
        if worker is None:
            try:
                worker = self._make()
            except SandboxError as exc:
                raise WarmError(str(exc)) from exc
            with self._cond:
                self.started_count += 1
        self.fill()
        return worker

    def give_back(self, worker: Worker) -> None:
        with self._cond:
            keep = self.reuse and worker.broken is None and worker.served < RECYCLE_AFTER and not self._closed
            if keep:
                self._idle.append(worker)
                self._cond.notify_all()
        if not keep:
            self._background(worker.retire, "lit2code-warm-retire")
            self.fill()

    def close(self, wait: float = 60.0) -> None:
        """Retire every worker, and wait (bounded) for those being started or retired."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.retire()
        self.settle(wait)

    def settle(self, wait: float = 60.0) -> None:
        """Wait (bounded) until no worker is being started or retired in the background."""
        deadline = time.monotonic() + wait
        while True:
            with self._cond:
                threads = list(self._threads)
            if not threads or time.monotonic() > deadline:
                break
            for thread in threads:
                thread.join(max(deadline - time.monotonic(), 0))
