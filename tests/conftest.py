"""Shared fixtures: the sandbox runtime, a CLI runner, and fresh run/repo folders per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def runtime_python() -> str:
    """The interpreter of generated code (the process backend's runtime, built on first use).

    Exported as LIT2CODE_RUNTIME, so the runs of tests that move LIT2CODE_CACHE_DIR elsewhere (for a fresh
    model cache) reuse it instead of building another one there.
    """
    from agent.sandbox.runtime import ensure_runtime

    runtime = ensure_runtime()
    os.environ.setdefault("LIT2CODE_RUNTIME", str(runtime))
    return str(runtime / "bin" / "python")


@pytest.fixture(scope="session")
def warm_sandbox(runtime_python: str):
    """One process sandbox for the session: its warm fork servers serve every test that uses it."""
    from agent.sandbox.process import ProcessSandbox

    sandbox = ProcessSandbox()
    yield sandbox
    sandbox.close()


def docker_or_skip():
    """The docker sandbox, or a skip with the reason (a failure when LIT2CODE_REQUIRE_DOCKER=1, as in CI)."""
    from agent.sandbox import SandboxError
    from agent.sandbox.docker_backend import DockerSandbox

    try:
        sandbox = DockerSandbox()
        tag = sandbox.image()
        if not sandbox.has_image(tag):
            raise SandboxError(f"image {tag} not built (lit2code sandbox build --offline)")
        return sandbox
    except SandboxError as exc:
        if os.environ.get("LIT2CODE_REQUIRE_DOCKER") == "1":
            pytest.fail(f"LIT2CODE_REQUIRE_DOCKER=1 but the docker sandbox is unusable: {exc}")
        pytest.skip(f"docker sandbox unavailable: {exc}")


@dataclass
class CLI:
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "agent", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"lit2code {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def report(self, run_id: str) -> dict:
        return json.loads((self.cwd / "runs" / run_id / "report.json").read_text())


def make_cli(workdir: Path) -> CLI:
    env = {**os.environ, "LIT2CODE_RUNS_DIR": str(workdir / "runs"), "PYTHONPATH": str(ROOT)}
    return CLI(cwd=workdir, env=env)


@pytest.fixture
def cli(tmp_path: Path, runtime_python: str) -> CLI:
    return make_cli(tmp_path)


@pytest.fixture(scope="session")
def real_llm_server(tmp_path_factory: pytest.TempPathFactory):
    """llama.cpp's server with the pinned SmolLM2-135M (tests/real_llm.py), one per session; skipped
    without the pinned packages, a failure instead when LIT2CODE_REQUIRE_REAL_LLM=1 (as in CI)."""
    from tests.real_llm import RealServer, Unavailable, model_path

    try:
        model_path()
        server = RealServer(tmp_path_factory.mktemp("llama-server") / "server.log")
    except Unavailable as exc:
        if os.environ.get("LIT2CODE_REQUIRE_REAL_LLM") == "1":
            pytest.fail(f"LIT2CODE_REQUIRE_REAL_LLM=1 but the real model server is unusable: {exc}")
        pytest.skip(f"real model server unavailable: {exc}")
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """The real_llm tier's figures (papers, statuses, calls, tokens, time), when it ran."""
    from tests.real_llm import FIGURES

    if FIGURES:
        terminalreporter.section("real_llm tier")
        for line in FIGURES:
            terminalreporter.write_line(line)
