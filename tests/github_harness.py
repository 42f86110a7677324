"""The world of the GitHub tests: a fake GitHub on loopback (tests/fake_github) holding an org with a digest
repository and a target repository, a GitHub App installed on them, and the real `lit2code serve` in a
subprocess pointed at it. Deliveries are signed with the standard library and sent over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import DATA, ROOT
from tests.fake_github import FakeGitHub, build_delivery, issue_comment_payload, push_payload, send

MINI = (DATA / "mini.jsonl").read_text()
CONFIG = """\
target = "acme/papers-impl"

[run]
sandbox = "process"
concurrency = 2
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    gh: FakeGitHub
    app: dict[str, Any]
    installation: int
    tmp: Path

    @property
    def secret(self) -> str:
        return str(self.app["webhook_secret"])

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LIT2CODE_RUNS_DIR": str(self.tmp / "runs"),
            "LIT2CODE_GITHUB_API_URL": self.gh.api_url,
            "LIT2CODE_GITHUB_APP_ID": str(self.app["id"]),
            "LIT2CODE_GITHUB_PRIVATE_KEY": self.app["private_key_pem"],
            "LIT2CODE_GITHUB_WEBHOOK_SECRET": self.secret,
            "LIT2CODE_GITHUB_WORKERS": "2",
        }

    def push(self, files: dict[str, str | None], author: str = "alice") -> tuple[str, dict[str, Any]]:
        """A user's commit on the digest repository's main, and the push event GitHub would send."""
        before = self.gh.resolve_ref("acme/digests", "main")
        after = self.gh.commit("acme/digests", files, branch="main", author=author, message="add a digest")
        payload = push_payload(
            self.gh, "acme/digests", before=before, after=after, pusher=author, installation_id=self.installation
        )
        return after, payload

    def comment(self, number: int, body: str, user: str, repo: str = "acme/digests") -> dict[str, Any]:
        made = self.gh.add_comment(repo, number, body, user=user)
        return issue_comment_payload(self.gh, repo, number, made, installation_id=self.installation)


def make_world(tmp: Path) -> World:
    gh = FakeGitHub(tmp / "github").start()
    for login in ("alice", "carol", "dana"):
        gh.add_user(login, name=login.title(), email=f"{login}@example.org")
    gh.add_org("acme", members={"alice": True, "dana": False})
    gh.create_repo("acme/digests", files={"README.md": "# digests\n", ".lit2code.toml": CONFIG})
    gh.create_repo("acme/papers-impl", files={"README.md": "# Implementations\n\nOurs.\n"})
    gh.set_permission("acme/digests", "alice", "write")
    gh.set_permission("acme/digests", "dana", "write", via="org")  # a private member: NONE in author_association
    gh.set_permission("acme/digests", "carol", "read")
    gh.set_permission("acme/papers-impl", "alice", "write")
    app = gh.create_app("lit2code", owner="acme")
    installation = gh.install_app(app["id"], "acme")
    return World(gh, app, installation, tmp)


class Server:
    """`lit2code serve` in its own process, its log in a file."""

    def __init__(self, world: World, env: dict[str, str] | None = None) -> None:
        self.world = world
        self.port = free_port()
        self.log = world.tmp / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve", "--port", str(self.port)],
            cwd=world.tmp,
            env=env or world.env(),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "lit2code serve did not answer /healthz"
            time.sleep(0.2)

    @property
    def hook(self) -> str:
        return self.url + "/github/webhook"

    def deliver(self, event: str, payload: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return send(self.hook, build_delivery(event, payload, secret=kw.pop("secret", self.world.secret), **kw))

    def jobs(self) -> list[dict[str, Any]]:
        return list(httpx.get(self.url + "/runs", timeout=10).json()["jobs"])

    def wait(self, job_id: int, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = next((j for j in self.jobs() if j["id"] == job_id), None)
            if job and job["status"] in ("done", "failed", "cancelled"):
                return job
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} did not finish:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def committed_on(world: World, branch: str, repo: str = "acme/papers-impl") -> list[str]:
    """The Lit2code-Paper trailers of the branch's commits (duplicates kept)."""
    ids = []
    for c in world.gh.commits(repo, branch):
        for line in c["message"].splitlines():
            if line.startswith("Lit2code-Paper: "):
                ids.append(line.split(": ", 1)[1].strip())
    return ids


def report(world: World, run_id: str) -> dict[str, Any]:
    return dict(json.loads((world.tmp / "runs" / run_id / "report.json").read_text()))
