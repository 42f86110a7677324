"""The backend interface every sandbox implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from agent.models import SandboxResult

GpuMode = Literal["auto", "on", "off"]

# Output beyond this many bytes per stream is dropped and flagged `stdout_truncated`.
OUTPUT_CAP_BYTES = 1_000_000


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (no runtime, no daemon, no GPU with --gpu on): not a paper's fault."""


class Sandbox(ABC):
    """Runs a command over a copy of a workspace folder and reports what happened.

    The workspace is copied in; nothing the command writes reaches the host's copy.
    """

    name: str

    @abstractmethod
    def exec(
        self,
        workspace: Path,
        cmd: list[str],
        *,
        timeout: float = 300.0,
        memory: str = "4g",
        gpu: GpuMode = "off",
        collect: list[str] | None = None,
    ) -> tuple[SandboxResult, dict[str, bytes]]:
        """Run `cmd` (cwd = the workspace copy). `collect` names files, relative to the workspace,
        to read back after the run (e.g. a junit XML); missing ones are absent from the dict."""

    def prepare(self) -> None:
        """Get ready before the first run (build a runtime, check a daemon); errors raise SandboxError."""
        return None

    def python(self) -> str:
        """The interpreter name or path that `cmd` should use to run generated code."""
        return "python"


def parse_size(size: str) -> int:
    """'4g' / '512m' / '1024k' / '123' -> bytes."""
    s = size.strip().lower()
    mult = {"k": 1024, "m": 1024**2, "g": 1024**3}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def get_sandbox(name: str) -> Sandbox:
    """A backend by name: 'process' or 'docker'."""
    if name == "process":
        from agent.sandbox.process import ProcessSandbox

        return ProcessSandbox()
    if name == "docker":
        try:
            from agent.sandbox.docker_backend import DockerSandbox
        except ImportError as exc:  # pragma: no cover - until the docker backend lands
            raise SandboxError(f"the docker backend is not available: {exc}") from exc
        return DockerSandbox()
    raise SandboxError(f"unknown sandbox backend {name!r}; use 'process' or 'docker'")
