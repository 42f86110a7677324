"""The backend interface every sandbox implements (implementations: `agent.registry.SANDBOXES`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from agent.models import SandboxResult

GpuMode = Literal["auto", "on", "off"]


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

    def run_pytest(
        self,
        workspace: Path,
        args: list[str],
        *,
        trusted: bool,
        timeout: float = 300.0,
        memory: str = "4g",
        gpu: GpuMode = "off",
        collect: list[str] | None = None,
    ) -> tuple[SandboxResult, dict[str, bytes]]:
        """pytest with `args` over a copy of the workspace, like `exec` of `python -m pytest ARGS`.

        `trusted`: the code is our own template code (a warm worker may be reused for it); model-written
        or human-edited code is not. This default runs cold; backends with a fork server override it.
        """
        return self.cold_pytest(workspace, args, timeout=timeout, memory=memory, gpu=gpu, collect=collect)

    def cold_pytest(
        self,
        workspace: Path,
        args: list[str],
        *,
        timeout: float = 300.0,
        memory: str = "4g",
        gpu: GpuMode = "off",
        collect: list[str] | None = None,
        why: str | None = None,
    ) -> tuple[SandboxResult, dict[str, bytes]]:
        """pytest in a fresh interpreter (`exec`); `why` says why a warm path was not taken, for the record."""
        cmd = [self.python(), "-m", "pytest", *args]
        result, files = self.exec(workspace, cmd, timeout=timeout, memory=memory, gpu=gpu, collect=collect)
        return result.model_copy(update={"mode_note": why}), files

    def warm_up(self, trusted: bool, untrusted: bool, memory: str = "4g") -> None:
        """Start fork servers ahead of the first validation of each kind, in the background (a no-op for
        backends without one)."""
        return None

    def close(self) -> None:
        """Stop whatever the backend keeps running between validations."""
        return None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Can this backend run here now (for `--sandbox auto`)? And why not, in words a user can act on."""
        return True, "ready"

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
