"""A client for a fake GitHub running in another process (`python -m tests.fake_github`): the same set-up and
read-back methods as FakeGitHub, called through its `/_fake/call/<name>` control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .state import FakeState


class ControlError(RuntimeError):
    """The fake refused a control call (its message says why)."""


class RemoteFake:
    """Calls FakeGitHub's control methods over HTTP: `RemoteFake(url).create_repo("acme/x", files={...})`."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.api_url = f"{self.url}/api/v3"
        self._client = httpx.Client(timeout=60)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        resp = self._client.post(f"{self.url}/_fake/call/{name}", json={"args": list(args), "kwargs": kwargs})
        data = resp.json()
        if resp.status_code != 200:
            raise ControlError(data.get("error", resp.text))
        return data["result"]

    def __getattr__(self, name: str) -> Any:
        if name not in FakeState.CONTROL_METHODS:
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def close(self) -> None:
        self._client.close()


class FakeGitHubProcess:
    """`python -m tests.fake_github` as a child process; `.fake` is a RemoteFake bound to it."""

    def __init__(self, state_dir: Path | str, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.state_dir = Path(state_dir)
        self.port, self.host = port, host
        self.proc: subprocess.Popen[str] | None = None
        self.fake: RemoteFake | None = None

    def start(self, timeout: float = 30) -> RemoteFake:
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_github", "--host", self.host, "--port", str(self.port)]
            + ["--state", str(self.state_dir)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError(f"the fake GitHub process did not start (exit {self.proc.poll()})")
        info = json.loads(line)
        self.fake = RemoteFake(info["url"])
        return self.fake

    def stop(self) -> None:
        if self.fake is not None:
            self.fake.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> RemoteFake:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
