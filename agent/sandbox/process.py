"""The `process` backend: a subprocess in its own session, with rlimits and a scrubbed environment.

It is not isolation (the code runs as this user, with this user's network): it is meant for our own
template code. The workspace is copied to a fresh temp folder (regular files and folders only), so the
caller's copy stays untouched, and collected files are read back symlink-free and capped.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from agent.models import SandboxResult
from agent.sandbox.base import GpuMode, Sandbox, SandboxError, parse_size
from agent.sandbox.runtime import ensure_runtime
from agent.sandbox.workspace import OUTPUT_CAP_BYTES, copy_workspace, read_regular_files, safe_relpath

FSIZE_LIMIT = 1 << 30  # 1 GiB per file written
NOFILE_LIMIT = 1024
NPROC_LIMIT = 4096  # per-user on Linux, so generous; the timeout is the real backstop


def _read_capped(stream, sink: list[bytes], flag: list[bool]) -> None:
    """Drain a pipe, keeping at most OUTPUT_CAP_BYTES (the child must never block on a full pipe)."""
    kept = 0
    while chunk := stream.read(65536):
        if kept < OUTPUT_CAP_BYTES:
            room = OUTPUT_CAP_BYTES - kept
            sink.append(chunk[:room])
            kept += min(len(chunk), room)
            if len(chunk) > room:
                flag[0] = True
        else:
            flag[0] = True


class ProcessSandbox(Sandbox):
    name = "process"

    def __init__(self, runtime: Path | None = None) -> None:
        self._runtime = runtime

    @property
    def runtime(self) -> Path:
        if self._runtime is None:
            self._runtime = ensure_runtime()
        return self._runtime

    def prepare(self) -> None:
        self.runtime  # noqa: B018 - builds the runtime now, not inside the first paper's timing

    def python(self) -> str:
        return str(self.runtime / "bin" / "python")

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
        if gpu == "on":
            raise SandboxError(
                "--gpu on needs the docker backend with an nvidia runtime; the process backend runs on CPU"
            )
        mem = parse_size(memory)
        runtime_bin = str(self.runtime / "bin")
        with tempfile.TemporaryDirectory(prefix="lit2code-proc-") as tmp:
            work = Path(tmp) / "work"
            copy_workspace(workspace, work)
            home = Path(tmp) / "home"
            home.mkdir()
            # Scrubbed environment: nothing of the host's (API keys included) reaches generated code.
            env = {
                "PATH": f"{runtime_bin}:/usr/bin:/bin",
                "HOME": str(home),
                "TMPDIR": str(home),
                "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0",
                "CUDA_VISIBLE_DEVICES": "",
                "OMP_NUM_THREADS": "1",
            }

            def limits() -> None:
                resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
                resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))
                resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE_LIMIT, NOFILE_LIMIT))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                cpu = int(timeout) + 5
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

            started = time.monotonic()
            proc = subprocess.Popen(
                cmd,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own process group: the timeout kills every descendant
                preexec_fn=limits,
            )
            out: list[bytes] = []
            err: list[bytes] = []
            out_cut, err_cut = [False], [False]
            readers = [
                threading.Thread(target=_read_capped, args=(proc.stdout, out, out_cut), daemon=True),
                threading.Thread(target=_read_capped, args=(proc.stderr, err, err_cut), daemon=True),
            ]
            for r in readers:
                r.start()
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            # Kill the whole group even after a clean exit: a daemonised grandchild must not outlive us.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for r in readers:
                r.join(timeout=5)
            duration = time.monotonic() - started
            # Only regular files inside the workspace come back: no symlink or '..' escapes.
            wanted = {name: rel for rel in collect or [] if (name := safe_relpath(rel))}
            found = read_regular_files(str(work), list(wanted), OUTPUT_CAP_BYTES)
            files = {wanted[name]: data for name, data in found.items()}
        result = SandboxResult(
            exit_code=-9 if timed_out else proc.returncode,
            timed_out=timed_out,
            oom_killed=False,
            duration_s=round(duration, 3),
            stdout=b"".join(out).decode("utf-8", "replace"),
            stderr=b"".join(err).decode("utf-8", "replace"),
            stdout_truncated=out_cut[0] or err_cut[0],
            backend=self.name,
            image=None,
            gpu=False,
            gpu_note="process backend runs on CPU",
        )
        return result, files
