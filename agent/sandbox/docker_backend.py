"""The `docker` backend: one fresh, locked-down container per validation.

Generated code is untrusted, so every run gets a new container with no network, memory (= memory+swap),
CPU and pids limits, a non-root user, a read-only root, size-capped tmpfs for /workspace and /tmp,
no capabilities, no-new-privileges, an init that reaps zombies, fsize/nofile/core ulimits, no host
environment and no host mount. The container's own main process is `sleep TIMEOUT+GRACE`, so even a
container orphaned by a crash of this process ends by itself; labels let `prune` reap it too.

Why exec instead of running the command as the container's main process: Docker 20.10 (Debian's
docker.io) cannot put_archive/get_archive into a tmpfs mount, and the tmpfs vanishes when the container
stops. So the container idles, the code goes in through `tar -x` on an exec's stdin, the command runs
as a second exec, the files to collect come out through a third, and only then is the container killed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.models import SandboxResult
from agent.sandbox.base import GpuMode, Sandbox, SandboxError, parse_size
from agent.sandbox.image import image_tag
from agent.sandbox.warm import Channel, WarmError, Worker, WorkerPool
from agent.sandbox.warm import source as warm_source
from agent.sandbox.workspace import (
    OUTPUT_CAP_BYTES,
    extract_collected,
    safe_relpath,
    tar_workspace,
)
from agent.sandbox.zygote import read_regular_files
from agent.settings import settings

USER = "1000:1000"
PYTHON = "/opt/venv/bin/python"
WORKSPACE = "/workspace"
LABEL = "lit2code"
FSIZE_LIMIT = 256 * 1024**2  # per file; below the workspace tmpfs so a huge file dies on fsize first
NOFILE_LIMIT = 1024
PIDS_LIMIT = 256  # a cgroup limit: RLIMIT_NPROC would count the host's processes of uid 1000 too
WORKSPACE_TMPFS = "512m"
TMP_TMPFS = "256m"
GRACE_S = 30  # a leftover container outlives its command's timeout by this much, then exits itself
COLLECT_TIMEOUT_S = 15.0
WORKER_LIFETIME_S = 3600  # a warm worker's container ends by itself after this (its keeper's sleep)
POOL_AHEAD = 1  # single-use warm containers kept started for model-written code
ENV = {
    "PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
}
NVIDIA_HINT = (
    "install the NVIDIA Container Toolkit on the Docker host (package nvidia-container-toolkit), run "
    "`nvidia-ctk runtime configure --runtime=docker`, restart dockerd, and check with `lit2code sandbox doctor`"
)

# Runs inside the container (python -I: no cwd, no env on sys.path, so the workspace cannot shadow tarfile):
# the shared reader of agent.sandbox.workspace, then the files as a tar on stdout.
_COLLECT_SCRIPT = (
    "import io, os, stat, sys, tarfile\n"
    + inspect.getsource(read_regular_files)
    + """
out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
for name, data in read_regular_files("/workspace", sys.argv[2:], int(sys.argv[1])).items():
    info = tarfile.TarInfo(name)
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
out.close()
"""
)

# Runs inside the container: SIGKILL every process but init, the idle keeper (PID 1's oldest child: it
# started before any exec, and start times cannot be forged) and itself. Rounds, because leftovers may fork.
_REAP_SCRIPT = """
import os, signal
def procs():
    found = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                found[int(p)] = (int(fields[1]), int(fields[19]))
            except (OSError, IndexError, ValueError):
                pass
    return found
keeper = min((start, pid) for pid, (ppid, start) in procs().items() if ppid == 1)[1]
for _ in range(50):
    others = [p for p in procs() if p not in (1, keeper, os.getpid())]
    if not others:
        break
    for p in others:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
"""


# --- pure pieces (unit-tested without a daemon) ----------------------------------------------------


def resolve_gpu(mode: GpuMode, runtime_ok: bool, gpu_image_ok: bool) -> tuple[bool, str]:
    """(use the GPU?, note for the result). `on` fails loudly where `auto` falls back to CPU."""
    if mode == "off":
        return False, "gpu off: ran on CPU"
    if not runtime_ok:
        if mode == "on":
            raise SandboxError(
                f"--gpu on: the Docker daemon has no nvidia runtime; {NVIDIA_HINT}; "
                "or pass --gpu auto to fall back to CPU"
            )
        return False, "no nvidia runtime: ran on CPU"
    if not gpu_image_ok:
        if mode == "on":
            raise SandboxError("--gpu on: the GPU sandbox image is not built; run `lit2code sandbox build --gpu`")
        return False, "nvidia runtime found but no GPU image (`lit2code sandbox build --gpu`): ran on CPU"
    return True, "nvidia runtime: ran on GPU"


def owner_labels(timeout: float, pid: int | None = None) -> dict[str, str]:
    """Who started a container and until when it may live: what `prune` decides by."""
    pid = pid or os.getpid()
    return {
        LABEL: "1",
        f"{LABEL}.pid": str(pid),
        f"{LABEL}.pid_start": _process_start(pid),
        f"{LABEL}.host": socket.gethostname(),
        f"{LABEL}.deadline": str(int(time.time() + timeout + GRACE_S)),
    }


def container_kwargs(
    *, image: str, memory: str, timeout: float, gpu: bool, cpus: float, labels: dict[str, str]
) -> dict[str, Any]:
    """Everything `containers.create` gets: every protection the README's sandbox section lists, in one place."""
    from docker.types import DeviceRequest, Ulimit

    mem = parse_size(memory)
    env = dict(ENV)
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    kwargs: dict[str, Any] = {
        "image": image,
        # The container's own lifetime is bounded: a crash of the orchestrator leaves nothing running forever.
        "command": ["sleep", str(int(timeout + GRACE_S))],
        "user": USER,
        "working_dir": WORKSPACE,
        "environment": env,  # only this: nothing of the host's environment gets in
        "hostname": "sandbox",
        "network_mode": "none",
        "mem_limit": mem,
        "memswap_limit": mem,  # equal: no swap on top of the memory limit
        "oom_score_adj": 1000,  # if the host runs short, the sandbox dies first
        "nano_cpus": int(cpus * 1e9),
        "pids_limit": PIDS_LIMIT,
        "read_only": True,
        "tmpfs": {
            # noexec: Python reads .py files; no binary dropped by the code can be executed from here.
            WORKSPACE: f"rw,size={WORKSPACE_TMPFS},uid=1000,gid=1000,mode=0755,nosuid,nodev,noexec",
            "/tmp": f"rw,size={TMP_TMPFS},mode=1777,nosuid,nodev,noexec",
        },
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "init": True,  # PID 1 reaps zombies and forwards signals
        "ulimits": [
            Ulimit(name="fsize", soft=FSIZE_LIMIT, hard=FSIZE_LIMIT),
            Ulimit(name="nofile", soft=NOFILE_LIMIT, hard=NOFILE_LIMIT),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "log_config": {"type": "none", "config": {}},  # output is read from the exec stream, never stored
        "labels": labels,
        "detach": True,
    }
    if gpu:
        kwargs["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    return kwargs


# --- owners and pruning ----------------------------------------------------------------------------


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks: with the pid, it names one process (pids are reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_alive(labels: dict[str, str], now: float | None = None) -> bool:
    """Is the process that started this container still running it (and within its deadline)?"""
    deadline = float(labels.get(f"{LABEL}.deadline", "0") or 0)
    if (now or time.time()) > deadline:
        return False
    if labels.get(f"{LABEL}.host") != socket.gethostname():
        return True  # another machine's container sharing this daemon: only its deadline can retire it
    pid = labels.get(f"{LABEL}.pid", "")
    if not pid.isdigit():
        return False
    return _process_start(int(pid)) == labels.get(f"{LABEL}.pid_start") != ""


def prune(client, everything: bool = False) -> list[str]:
    """Remove lit2code containers whose owner is gone (or all of them): returns their short ids."""
    import docker.errors

    removed = []
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        if everything or not owner_alive(c.labels):
            try:
                c.remove(force=True)
                removed.append(c.short_id)
            except docker.errors.NotFound:
                pass  # gone meanwhile (another prune, or its owner finished)
    return removed


# --- exec streams ----------------------------------------------------------------------------------


def _raw_socket(sock) -> socket.socket:
    return getattr(sock, "_sock", sock)


class _Capture:
    """Demultiplex an exec's stdout/stderr frames, keeping at most the cap of each and draining the rest
    (the command must never block on a full pipe; memory stays flat even for gigabytes of output)."""

    def __init__(
        self, sock, cap: int = OUTPUT_CAP_BYTES, on_stdout: Callable[[bytes | None], None] | None = None
    ) -> None:
        self.on_stdout = on_stdout  # when set, stdout goes there as it comes (None at its end), uncapped
        raw = _raw_socket(sock)
        raw.settimeout(None)  # the deadline is the caller's job; a quiet test must not time out the read
        self._reader = raw.makefile("rb", buffering=1 << 20)
        self._raw = raw
        self.cap = cap
        self.out: list[bytearray] = [bytearray(), bytearray()]
        self.truncated = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            while len(header := self._reader.read(8)) == 8:
                target = self.out[1] if header[0] == 2 else self.out[0]
                left = int.from_bytes(header[4:8], "big")
                while left:
                    chunk = self._reader.read(min(left, 1 << 20))
                    if not chunk:
                        return
                    left -= len(chunk)
                    if self.on_stdout is not None and header[0] != 2:
                        self.on_stdout(chunk)
                        continue
                    room = self.cap - len(target)
                    if room > 0:
                        target += chunk[:room]
                    if len(chunk) > room:
                        self.truncated = True
        except (OSError, ValueError):
            pass  # the container was killed under us: keep what we have
        finally:
            if self.on_stdout is not None:
                self.on_stdout(None)

    def close(self, wait: float = 2.0) -> None:
        """Stop reading (the stream has ended, or the container is dead) and let the thread finish."""
        self.thread.join(wait)
        for closer in (self._reader.close, self._raw.close):
            with contextlib.suppress(OSError):
                closer()


# --- the backend -----------------------------------------------------------------------------------


class DockerSandbox(Sandbox):
    name = "docker"
    _pruned_at_startup = False  # once per process: reap what a crashed earlier run left behind

    def __init__(
        self,
        client=None,
        image: str | None = None,
        gpu_image: str | None = None,
        cpus: float | None = None,
        warm: bool = True,
    ) -> None:
        self._client = client
        self._image = image
        self._gpu_image = gpu_image
        default_cpus = min(2.0, max(1.0, (os.cpu_count() or 1) - 0.5))  # leave the host some air
        self.cpus = cpus or settings().sandbox_cpus or default_cpus
        self._images_ok: dict[str, bool] = {}
        self._gpu_runtime: bool | None = None
        self.warm = warm  # False: every validation in a fresh container, as before the fork server
        self._pools: dict[tuple[bool, str], WorkerPool] = {}  # (trusted, memory) -> its workers
        self._pool_lock = threading.Lock()
        self._counter = itertools.count()

    @property
    def client(self):
        if self._client is None:
            try:
                import docker

                self._client = docker.from_env()
                self._client.ping()
            except Exception as exc:  # DockerException, connection errors, a missing SDK
                self._client = None
                raise SandboxError(
                    f"cannot reach the Docker daemon ({exc}); start dockerd or use --sandbox process; "
                    "`lit2code sandbox doctor` explains"
                ) from exc
        if not DockerSandbox._pruned_at_startup:
            DockerSandbox._pruned_at_startup = True
            prune(self._client)
        return self._client

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """A daemon answers and the CPU sandbox image is built."""
        try:
            import docker

            client = docker.from_env(timeout=5)
            client.ping()
        except Exception as exc:  # no SDK, no daemon, no permission: all mean "not ready"
            return False, f"no Docker daemon answers: {exc.__class__.__name__}"
        sandbox = cls(client=client)
        tag = sandbox.image()
        if not sandbox.has_image(tag):
            return False, f"the sandbox image {tag} is not built (run `lit2code sandbox build --offline`)"
        return True, f"daemon and image {tag} ready"

    def prepare(self) -> None:
        tag = self.image()
        if not self.has_image(tag):  # self.client raises a SandboxError first when no daemon answers
            raise SandboxError(f"the sandbox image {tag} is not built; run `lit2code sandbox build --offline`")

    def python(self) -> str:
        return PYTHON

    def image(self, gpu: bool = False) -> str:
        chosen = self._gpu_image if gpu else self._image
        return chosen or image_tag(gpu)

    def has_image(self, tag: str) -> bool:
        import docker.errors

        if tag not in self._images_ok:  # inspected once per instance: a per-run inspect costs latency
            try:
                self.client.api.inspect_image(tag)
                self._images_ok[tag] = True
            except docker.errors.ImageNotFound:
                return False
        return self._images_ok[tag]

    def gpu_runtime(self) -> bool:
        """Is an nvidia runtime there? In `docker info`'s runtimes, or its hook beside a local daemon."""
        if self._gpu_runtime is None:
            import shutil

            runtimes = self.client.info().get("Runtimes") or {}
            self._gpu_runtime = "nvidia" in runtimes or shutil.which("nvidia-container-runtime-hook") is not None
        return self._gpu_runtime

    def plan(self, *, memory: str, timeout: float, gpu: GpuMode) -> tuple[dict[str, Any], bool, str]:
        """The create kwargs for one run, and the GPU decision with its note."""
        use_gpu, note = False, "gpu off: ran on CPU"
        if gpu != "off":
            runtime_ok = self.gpu_runtime()
            use_gpu, note = resolve_gpu(gpu, runtime_ok, runtime_ok and self.has_image(self.image(True)))
        tag = self.image(use_gpu)
        if not self.has_image(tag):
            raise SandboxError(
                f"the sandbox image {tag} is not built: run `lit2code sandbox build --offline` "
                "(or without --offline where a registry is reachable); `lit2code sandbox doctor` checks the setup"
            )
        kwargs = container_kwargs(
            image=tag, memory=memory, timeout=timeout, gpu=use_gpu, cpus=self.cpus, labels=owner_labels(timeout)
        )
        return kwargs, use_gpu, note

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
        import docker.errors

        workspace = Path(workspace)
        if not workspace.is_dir():
            raise SandboxError(f"workspace {workspace} is not a directory")
        payload = tar_workspace(workspace)
        kwargs, use_gpu, note = self.plan(memory=memory, timeout=timeout, gpu=gpu)
        wanted = [n for n in (safe_relpath(c) for c in collect or []) if n]
        api = self.client.api
        started = time.monotonic()
        container = None
        try:
            container = self.client.containers.create(**kwargs)
            container.start()
            self._copy_in(container.id, payload)
            exit_code, timed_out, capture = self._run(container.id, cmd, started + timeout)
            files: dict[str, bytes] = {}
            # The code may have killed the container's keeper (same uid): then there is nothing to collect.
            if wanted and not timed_out:
                with contextlib.suppress(docker.errors.APIError):
                    if capture.thread.is_alive():
                        # The command exited but something it left behind holds its output open; Docker
                        # then stalls this container's next exec for seconds. Kill the leftovers first.
                        self._exec_quiet(container.id, ["python3", "-I", "-S", "-c", _REAP_SCRIPT])
                        capture.thread.join(3)
                    files = self._collect(container.id, wanted)
            # Kill first, then read the state: the daemon records OOMKilled when the container stops.
            with contextlib.suppress(docker.errors.APIError):
                container.kill()  # 409 when it already stopped by itself
            api.wait(container.id, timeout=30)
            capture.close()
            oom = bool(api.inspect_container(container.id)["State"].get("OOMKilled"))
        except (docker.errors.DockerException, OSError) as exc:  # OSError covers requests' connection errors
            detail = exc.explanation if isinstance(exc, docker.errors.APIError) else exc
            raise SandboxError(f"docker backend: {detail}") from exc
        finally:
            if container is not None:
                # On failure prune reaps it: it carries our labels and a deadline.
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
        result = SandboxResult(
            exit_code=-9 if timed_out else exit_code,
            timed_out=timed_out,
            oom_killed=oom,
            duration_s=round(time.monotonic() - started, 3),
            stdout=capture.out[0].decode("utf-8", "replace"),
            stderr=capture.out[1].decode("utf-8", "replace"),
            stdout_truncated=capture.truncated,
            backend=self.name,
            image=kwargs["image"],
            gpu=use_gpu,
            gpu_note=note,
        )
        return result, files

    def _copy_in(self, cid: str, payload: bytes) -> None:
        """Untar the workspace into the container's tmpfs through an exec's stdin."""
        api = self.client.api
        ex = api.exec_create(cid, ["tar", "-x", "-f", "-", "-C", WORKSPACE], stdin=True)["Id"]
        sock = api.exec_start(ex, socket=True)
        raw = _raw_socket(sock)
        try:
            raw.settimeout(60)
            raw.sendall(payload)
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(65536):
                pass
        finally:
            raw.close()
        code = api.exec_inspect(ex)["ExitCode"]
        if code != 0:
            raise SandboxError(f"copying the workspace into the sandbox failed (tar exit {code})")

    def _run(self, cid: str, cmd: list[str], deadline: float) -> tuple[int, bool, _Capture]:
        """Run the command; returns (exit code, timed out?, its captured output)."""
        api = self.client.api
        ex = api.exec_create(cid, cmd, workdir=WORKSPACE)["Id"]
        capture = _Capture(api.exec_start(ex, socket=True))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return -9, True, capture
            capture.thread.join(min(left, 0.25))
            if not capture.thread.is_alive():
                break
            # Still streaming: has the command exited while a daemonised child holds its stdout open?
            if not api.exec_inspect(ex)["Running"]:
                break
        info = api.exec_inspect(ex)
        return int(info["ExitCode"] if info["ExitCode"] is not None else -1), False, capture

    def _exec_quiet(self, cid: str, cmd: list[str], timeout: float = 10.0) -> None:
        """Run a helper of ours in the container and wait for it (bounded), ignoring its output."""
        api = self.client.api
        capture = _Capture(api.exec_start(api.exec_create(cid, cmd)["Id"], socket=True), cap=0)
        capture.close(wait=timeout)

    def _collect(self, cid: str, wanted: list[str]) -> dict[str, bytes]:
        """Read the wanted files back through an exec (the tmpfs is invisible to get_archive)."""
        api = self.client.api
        script = ["python3", "-I", "-S", "-c", _COLLECT_SCRIPT, str(OUTPUT_CAP_BYTES), *wanted]
        ex = api.exec_create(cid, script, stderr=False)["Id"]
        capture = _Capture(api.exec_start(ex, socket=True), cap=len(wanted) * (OUTPUT_CAP_BYTES + 2048) + 4096)
        capture.thread.join(COLLECT_TIMEOUT_S)  # a background process of the code may hog the CPU: bounded
        capture.close(wait=0)
        return extract_collected(bytes(capture.out[0]), set(wanted))

    # -- warm workers and the pool ---------------------------------------------------------------------

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
        """Trusted template code: a warm worker, reused. Anything else: a single-use warm container from
        the pool. GPU runs, and any failure of the warm path, run cold (fresh container, as `exec`)."""
        cold = functools.partial(
            self.cold_pytest, workspace, args, timeout=timeout, memory=memory, gpu=gpu, collect=collect
        )
        if not self.warm:
            return cold()
        kwargs, use_gpu, note = self.plan(memory=memory, timeout=timeout, gpu=gpu)
        if use_gpu:
            return cold(why="GPU validations run cold: CUDA starts in each fresh interpreter")
        pool = self._pool(trusted, memory)
        try:
            worker = pool.take(timeout + GRACE_S)
        except WarmError as exc:
            return cold(why=f"no warm worker: {exc}")
        wanted = [n for n in (safe_relpath(c) for c in collect or []) if n]
        folder = f"v{next(self._counter)}"
        env = dict(ENV)
        env["CUDA_VISIBLE_DEVICES"] = ""
        request = {
            "workspace": f"{WORKSPACE}/{folder}",
            "args": args,
            "timeout": timeout,
            "env": env,
            "collect": wanted,
            "cap": OUTPUT_CAP_BYTES,
            "watch": ["/tmp", WORKSPACE],
        }
        try:
            self._copy_in(worker.handle, tar_workspace(workspace, prefix=folder))
            reply = worker.run(request)
        except (WarmError, SandboxError, OSError) as exc:
            worker.broken = worker.broken or str(exc)
            pool.give_back(worker)
            return cold(why=f"warm worker failed: {exc}")
        pool.give_back(worker)
        return reply.result(backend=self.name, trusted=trusted, image=kwargs["image"], gpu_note=note), reply.collected()

    def _pool(self, trusted: bool, memory: str) -> WorkerPool:
        with self._pool_lock:
            key = (trusted, memory)
            if not self._pools:
                atexit.register(self.close)  # no warm container outlives this process (prune reaps after a kill)
            if key not in self._pools:
                self._pools[key] = WorkerPool(
                    lambda: self._start_worker(memory, "warm" if trusted else "pooled"),
                    reuse=trusted,
                    ahead=0 if trusted else POOL_AHEAD,
                )
            return self._pools[key]

    def _start_worker(self, memory: str, role: str) -> Worker:
        """A hardened container (exactly `exec`'s protections) running the fork server; blocks until warm."""
        import docker.errors

        labels = {**owner_labels(WORKER_LIFETIME_S), f"{LABEL}.role": role}
        kwargs = container_kwargs(
            image=self.image(), memory=memory, timeout=WORKER_LIFETIME_S, gpu=False, cpus=self.cpus, labels=labels
        )
        api = self.client.api
        container = None
        try:
            container = self.client.containers.create(**kwargs)
            container.start()
            cmd = [PYTHON, "-I", "-c", warm_source(), "--scope", "container"]
            ex = api.exec_create(container.id, cmd, stdin=True, workdir=WORKSPACE)["Id"]
            sock = api.exec_start(ex, socket=True)
        except (docker.errors.DockerException, OSError) as exc:
            if container is not None:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
            raise WarmError(f"cannot start a warm container: {exc}") from exc
        raw = _raw_socket(sock)
        channel = Channel(raw.sendall, lambda: raw.shutdown(socket.SHUT_RDWR))
        capture = _Capture(sock, cap=64 * 1024, on_stdout=channel.feed)

        def retire() -> None:
            capture.close(wait=0)
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)

        worker = Worker(channel, retire, label=f"{role} container {container.short_id}")
        worker.handle = container.id
        worker.expires = time.monotonic() + WORKER_LIFETIME_S
        try:
            worker.wait_ready()
        except WarmError as exc:
            worker.retire()
            raise WarmError(f"{exc} ({bytes(capture.out[1][-500:]).decode(errors='replace')})") from exc
        return worker

    def warm_up(self, trusted: bool, untrusted: bool, memory: str = "4g") -> None:
        if not self.warm:
            return
        if trusted:
            self._pool(True, memory).fill(1)  # the first validation finds one warm; more start on demand
        if untrusted:
            self._pool(False, memory).fill()

    def close(self) -> None:
        with self._pool_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
