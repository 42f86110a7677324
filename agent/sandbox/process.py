"""The `process` backend: a subprocess in its own session, with rlimits and a scrubbed environment.

It is not isolation (the code runs as this user, with this user's network): it is meant for our own
template code. The workspace is copied to a fresh temp folder (regular files and folders only), so the
caller's copy stays untouched, and collected files are read back symlink-free and capped.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from agent.models import SandboxResult
from agent.sandbox.base import GpuMode, Sandbox, SandboxError, parse_size
from agent.sandbox.runtime import ensure_runtime
from agent.sandbox.warm import Channel, WarmError, Worker, WorkerPool
from agent.sandbox.warm import source as warm_source
from agent.sandbox.workspace import OUTPUT_CAP_BYTES, copy_workspace, safe_relpath
from agent.sandbox.zygote import read_regular_files

FSIZE_LIMIT = 1 << 30  # 1 GiB per file written
NOFILE_LIMIT = 1024
WARM_AHEAD = 1  # single-use fork servers kept started for model-written code


def _env(runtime_bin: str, home: Path) -> dict[str, str]:
    """The scrubbed environment: nothing of the host's (API keys included) reaches generated code."""
    return {
        "PATH": f"{runtime_bin}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
    }


def _rlimits(memory: str, timeout: float) -> dict[str, int]:
    cpu = int(timeout) + 5
    return {
        "RLIMIT_AS": parse_size(memory),
        "RLIMIT_FSIZE": FSIZE_LIMIT,
        "RLIMIT_NOFILE": NOFILE_LIMIT,
        "RLIMIT_CORE": 0,
        "RLIMIT_CPU": cpu,
    }


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

    def __init__(self, runtime: Path | None = None, warm: bool = True) -> None:
        self._runtime = runtime
        self.warm = warm  # False: every validation cold, as before the fork server (benchmarks, checks)
        self._pools: dict[bool, WorkerPool] = {}  # by trust: reused workers, or single-use ones
        self._pool_lock = threading.Lock()

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
        runtime_bin = str(self.runtime / "bin")
        rlimits = _rlimits(memory, timeout)
        with tempfile.TemporaryDirectory(prefix="lit2code-proc-") as tmp:
            work = Path(tmp) / "work"
            copy_workspace(workspace, work)
            home = Path(tmp) / "home"
            home.mkdir()
            env = _env(runtime_bin, home)

            def limits() -> None:
                for name, value in rlimits.items():
                    resource.setrlimit(getattr(resource, name), (value, value))

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

    # -- the fork server ---------------------------------------------------------------------------

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
        cold = functools.partial(
            self.cold_pytest, workspace, args, timeout=timeout, memory=memory, gpu=gpu, collect=collect
        )
        if gpu == "on" or not self.warm:
            return cold()
        pool = self._pool(trusted)
        try:
            worker = pool.take()
        except WarmError as exc:
            return cold(why=f"no fork server: {exc}")
        with tempfile.TemporaryDirectory(prefix="lit2code-proc-") as tmp:
            work = Path(tmp) / "work"
            copy_workspace(workspace, work)
            home = Path(tmp) / "home"
            home.mkdir()
            wanted = {name: rel for rel in collect or [] if (name := safe_relpath(rel))}
            request = {
                "workspace": str(work),
                "args": args,
                "timeout": timeout,
                "env": _env(str(self.runtime / "bin"), home),
                "rlimits": _rlimits(memory, timeout),
                "collect": list(wanted),
                "cap": OUTPUT_CAP_BYTES,
            }
            try:
                reply = worker.run(request)
            except WarmError as exc:
                pool.give_back(worker)  # broken: retired
                return cold(why=f"fork server failed: {exc}")
        pool.give_back(worker)  # kept after a clean validation, retired after an anomaly
        result = reply.result(backend=self.name, trusted=trusted, image=None, gpu_note="process backend runs on CPU")
        return result, {wanted[name]: data for name, data in reply.collected().items()}

    def _pool(self, trusted: bool) -> WorkerPool:
        with self._pool_lock:
            if not self._pools:
                atexit.register(self.close)  # no fork server outlives this process
            if trusted not in self._pools:
                self._pools[trusted] = WorkerPool(self._start_worker, reuse=trusted, ahead=0 if trusted else WARM_AHEAD)
            return self._pools[trusted]

    def _start_worker(self) -> Worker:
        """A fork server in its own session, its stdout read by a thread; blocks until it is warm."""
        root = Path(tempfile.mkdtemp(prefix="lit2code-zygote-"))
        try:
            proc = subprocess.Popen(
                [self.python(), "-I", "-c", warm_source(), "--scope", "descendants"],
                cwd=root,
                env=_env(str(self.runtime / "bin"), root),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise WarmError(f"cannot start the fork server: {exc}") from exc
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def send(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        def retire() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            shutil.rmtree(root, ignore_errors=True)

        channel = Channel(send, stdin.close)

        def read() -> None:
            while chunk := os.read(stdout.fileno(), 65536):
                channel.feed(chunk)
            channel.feed(None)

        threading.Thread(target=read, daemon=True, name="lit2code-zygote-reader").start()
        worker = Worker(channel, retire, label=f"process fork server {proc.pid}")
        try:
            worker.wait_ready()
        except WarmError:
            worker.retire()
            raise
        return worker

    def warm_up(self, trusted: bool, untrusted: bool, memory: str = "4g") -> None:
        if not self.warm:
            return
        if trusted:
            self._pool(True).fill(1)  # the first validation finds one warm; more start on demand
        if untrusted:
            self._pool(False).fill()

    def close(self) -> None:
        with self._pool_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
