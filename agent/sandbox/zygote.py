"""The fork server ("zygote"): one interpreter that has paid torch's and pytest's start-up serves
validations, each in a child forked from it. It runs inside the sandbox runtime, not in lit2code's
own environment: standard library only at import time, torch and pytest imported by `warm()`. The module also holds
`read_regular_files`, the one reader of collected files, since that too runs inside sandboxes.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout (the first line
says it is ready). A request names a workspace folder (already filled), pytest's arguments, a
timeout, limits and files to read back; the reply carries the exit code, the captured output (each
stream cut at `cap` bytes), the files (base64), and any anomaly seen (timeout, OOM, processes left
behind, files written outside the workspace) so the caller can retire the worker.

Each child: its own session and process group, a fresh cwd, a scrubbed environment, rlimits, the
interpreter state of the pristine parent (module globals, monkeypatches, threads, cwd and env of an
earlier validation died with that validation's child), `pytest.main` in-process. Afterwards every
process the validation left is killed: in a container everything but PID 1, the idle keeper and us
(`--scope container`); on a host every descendant, found because we are a child subreaper.

The parent never starts a thread: a child forked from a process with torch's intra-op pool running
deadlocks in its first parallel op. `warm()` sets one thread before any tensor work and the server
refuses to serve (exits) if the process holds more than one thread when it forks. CUDA is never
touched here: GPU validations take the cold path.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import shutil
import signal
import stat
import sys
import time
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
STREAM_GRACE_S = 1.0  # after the child exits, how long its leftovers may keep its output open


# --- warming ------------------------------------------------------------------------------------------


def warm() -> float:
    """Import and exercise what validations use, with one thread; returns the seconds it took."""
    started = time.monotonic()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # numpy's BLAS starts a pool at import unless told otherwise
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch

    torch.set_num_threads(1)  # before any op: no intra-op pool exists to be inherited broken
    torch.set_num_interop_threads(1)
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    # First-use costs of the ops generated modules use (dispatch, kernels, autograd), all on one thread.
    x = torch.randn(4, 8, requires_grad=True)
    layer = nn.Linear(8, 8)
    attn = F.softmax(layer(x) @ x.T / 8**0.5, dim=-1)
    loss = (attn @ x).pow(2).mean() + F.cross_entropy(layer(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    torch.optim.AdamW(layer.parameters()).step()
    import _pytest.assertion.rewrite  # noqa: F401
    import _pytest.junitxml  # noqa: F401
    import _pytest.python  # noqa: F401

    # What exists now is never garbage to the children: keep it out of their collections. Without this,
    # each child's gc.collect() (pytest runs five at its end) walks torch's whole object graph and
    # copies every page it touches: seconds per validation.
    gc.collect()
    gc.freeze()
    return time.monotonic() - started


def threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


# --- processes ----------------------------------------------------------------------------------------


def _stat(pid: str) -> tuple[int, int] | None:
    """(ppid, start time) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def leftovers(scope: str, keep: set[int]) -> list[int]:
    """Processes a validation may have left: in a container every process but `keep`; on a host our
    children (orphans of a validation are re-parented to us, the subreaper)."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in keep or int(name) == me:
            continue
        info = _stat(name)
        if info is None:
            continue
        if scope == "container" or info[0] == me:
            found.append(int(name))
    return found


def sweep(scope: str, keep: set[int]) -> int:
    """Kill and reap what a validation left behind, in rounds (leftovers may fork); returns how many."""
    killed: set[int] = set()
    for _ in range(100):
        pids = leftovers(scope, keep)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        _reap()
        time.sleep(0.005)
    _reap()
    return len(killed)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def keeper_pid() -> int | None:
    """In a container: the idle keeper, PID 1's oldest child (it started before any exec)."""
    children = [(info[1], int(p)) for p in os.listdir("/proc") if p.isdigit() and (info := _stat(p)) and info[0] == 1]
    return min(children)[1] if children else None


def oom_kills() -> int | None:
    """The memory cgroup's OOM-kill counter (cgroup v2 memory.events, v1 memory.oom_control)."""
    for path, key in (
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ):
        try:
            with open(path) as fh:
                for line in fh:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def read_regular_files(root: str, names: list[str], cap: int) -> dict[str, bytes]:
    """Each named file under `root`, opened component by component with O_NOFOLLOW (a symlink anywhere in
    the path is refused), non-blocking (a FIFO cannot stall us), regular files only, at most `cap` bytes.
    Names must already be clean (`safe_relpath`). Standard library only: this also runs in containers."""
    found: dict[str, bytes] = {}
    for name in names:
        chunks: list[bytes] = []
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            parts = name.split("/")
            for part in parts[:-1]:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nxt
            f = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            try:
                if not stat.S_ISREG(os.fstat(f).st_mode):
                    continue
                left = cap
                while left > 0 and (chunk := os.read(f, min(left, 1 << 20))):
                    chunks.append(chunk)
                    left -= len(chunk)
            finally:
                os.close(f)
        except OSError:
            continue
        finally:
            os.close(fd)
        found[name] = b"".join(chunks)
    return found


# --- one validation -----------------------------------------------------------------------------------


def _child(req: dict[str, Any], out_w: int, err_w: int) -> None:
    """In the forked child: become the validation, run pytest, exit with its code. Never returns."""
    code = 70
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 65536)  # nothing of the server's (its request pipe) reaches the code
        os.chdir(req["workspace"])
        os.environ.clear()
        os.environ.update(req["env"])
        for name, value in req.get("rlimits", {}).items():
            limit = int(value)
            resource.setrlimit(getattr(resource, name), (limit, limit))
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.path.insert(0, req["workspace"])  # what `python -m pytest` puts first: the cwd
        sys.argv = ["pytest", *req["args"]]
        import pytest

        code = int(pytest.main(req["args"]))
    except BaseException as exc:  # noqa: BLE001 - the child must end here whatever happens
        with contextlib.suppress(Exception):
            os.write(2, f"lit2code zygote: the validation could not start: {exc!r}\n".encode())
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _drain(fd: int, buf: bytearray, cap: int) -> tuple[bool, bool]:
    """Read what is there; returns (still open, truncated now)."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return True, False
    except OSError:
        return False, False
    if not chunk:
        return False, False
    room = cap - len(buf)
    if room > 0:
        buf += chunk[:room]
    return True, len(chunk) > max(room, 0)


def serve_one(req: dict[str, Any], scope: str, keep: set[int]) -> dict[str, Any]:
    cap = int(req.get("cap", 1_000_000))
    timeout = float(req["timeout"])
    oom_before = oom_kills()
    watch = [d for d in req.get("watch", []) if os.path.isdir(d)]
    before = {d: set(os.listdir(d)) for d in watch}
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(req, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    for fd in (out_r, err_r):
        os.set_blocking(fd, False)
    bufs = {out_r: bytearray(), err_r: bytearray()}
    open_fds = {out_r, err_r}
    truncated = timed_out = False
    status: int | None = None
    exited_at: float | None = None
    deadline = started + timeout
    while True:
        now = time.monotonic()
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status, exited_at = st, now
        if status is not None and (not open_fds or now - (exited_at or now) > STREAM_GRACE_S):
            break  # ended; a daemon it left may hold the pipes open, but it dies in the sweep
        if now >= deadline:
            timed_out = True
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            if status is None:
                status = os.waitpid(pid, 0)[1]
            break
        if open_fds:
            ready, _, _ = select.select(list(open_fds), [], [], min(0.05, max(deadline - now, 0)))
            for fd in ready:
                still, cut = _drain(fd, bufs[fd], cap)
                truncated |= cut
                if not still:
                    open_fds.discard(fd)
        else:
            time.sleep(0.01)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    left = sweep(scope, keep)
    for fd in list(open_fds):
        _drain(fd, bufs[fd], cap)
    for fd in (out_r, err_r):
        os.close(fd)
    duration = time.monotonic() - started
    files = read_regular_files(req["workspace"], req.get("collect", []), cap)
    anomalies = []
    if timed_out:
        anomalies.append("timeout")
    if left:
        anomalies.append(f"{left} process(es) left behind")
    oom_after = oom_kills()
    oom = oom_before is not None and oom_after is not None and oom_after > oom_before
    if oom:
        anomalies.append("out of memory")
    elif status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and not timed_out:
        anomalies.append("killed by SIGKILL")  # without a counter to read, an OOM kill looks like this
    shutil.rmtree(req["workspace"], ignore_errors=True)
    for d in watch:  # anything new beside the workspace was written outside it: remove it, report it
        written = set(os.listdir(d)) - before[d] - {os.path.basename(req["workspace"])}
        if written:
            anomalies.append(
                f"files written outside the workspace: {', '.join(os.path.join(d, n) for n in sorted(written)[:5])}"
            )
            for name in written:
                path = os.path.join(d, name)
                with contextlib.suppress(OSError):
                    shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    exit_code = -9 if timed_out else (os.waitstatus_to_exitcode(status) if status is not None else -1)
    if exit_code < 0 and not timed_out:
        exit_code = 128 - exit_code  # a signal, as a shell (and docker) reports it: SIGKILL -> 137
    return {
        "exit_code": exit_code,
        "timed_out": timed_out,
        "oom_killed": oom,
        "duration_s": round(duration, 3),
        "stdout": base64.b64encode(bytes(bufs[out_r])).decode(),
        "stderr": base64.b64encode(bytes(bufs[err_r])).decode(),
        "truncated": truncated,
        "files": {name: base64.b64encode(data).decode() for name, data in files.items()},
        "anomalies": anomalies,
    }


# --- the server ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    scope = argv[argv.index("--scope") + 1] if "--scope" in argv else "descendants"
    sys.dont_write_bytecode = True
    keep: set[int] = {os.getpid()}
    if scope == "container":
        keep |= {1, *filter(None, [keeper_pid()])}
    else:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    reply = sys.stdout
    try:
        seconds = warm()
    except Exception as exc:  # noqa: BLE001 - reported, then the caller goes cold
        print(json.dumps({"ready": False, "error": f"warming failed: {exc!r}"}), file=reply, flush=True)
        return 1
    if threads() != 1:
        print(json.dumps({"ready": False, "error": f"{threads()} threads after warming"}), file=reply, flush=True)
        return 1
    print(json.dumps({"ready": True, "warm_s": round(seconds, 3), "pid": os.getpid()}), file=reply, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        if threads() != 1:  # never fork with a thread running (see the module docstring)
            print(json.dumps({"error": f"{threads()} threads: refusing to fork"}), file=reply, flush=True)
            return 1
        try:
            req = json.loads(line)
            result = serve_one(req, scope, keep)
        except Exception as exc:  # noqa: BLE001 - a broken request fails that request only
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), file=reply, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
