"""The fork server: validations in children of one warm interpreter, isolated from each other, with the
same verdicts as cold runs, and a cold fallback whenever the warm path fails."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.families import load_families
from agent.sandbox.process import ProcessSandbox
from agent.sandbox.warm import WarmError, Worker, WorkerPool
from agent.workflow.templates_check import check_all
from tests.conftest import docker_or_skip

ARGS = ["-q", "-p", "no:cacheprovider", "--junitxml=junit.xml"]

# Validation A leaves everything it can behind without breaking the rules a worker checks: files in its
# workspace, module globals, a monkeypatched torch, a thread, a changed cwd and environment.
POLLUTER = """
import json, os, sys, threading, time
import torch

def test_pollute():
    open("left_in_workspace.txt", "w").write("A")
    json.LEFT_BY_A = True
    torch.LEFT_BY_A = True
    torch.add = lambda *a, **k: "patched"
    sys.modules["polluted_module"] = object()
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    os.environ["LEFT_BY_A"] = "1"
    os.chdir("/")
    assert threading.active_count() == 2
"""

# Validation A, breaking those rules: a file outside its workspace and a setsid child that outlives it.
ESCAPER = """
import os, subprocess, sys, tempfile

def test_escape():
    open(os.path.join(tempfile.gettempdir(), "left_by_a.txt"), "w").write("A")
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)  # LEFT_BY_A"],
                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""

# Validation B sees none of it.
CHECKER = """
import json, os, sys, tempfile, threading
import torch

def test_sees_nothing_of_a():
    assert not os.path.exists("left_in_workspace.txt")
    assert not hasattr(json, "LEFT_BY_A") and not hasattr(torch, "LEFT_BY_A")
    assert torch.equal(torch.add(torch.ones(2), 1), torch.full((2,), 2.0))
    assert "polluted_module" not in sys.modules
    assert threading.active_count() == 1
    assert "LEFT_BY_A" not in os.environ
    assert os.path.realpath(os.getcwd()) == os.path.realpath(os.path.dirname(__file__))
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), "left_by_a.txt"))
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            assert b"LEFT_BY_A" not in open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            pass
"""

# The pitfall of forking after torch started its thread pool: this must not hang in the child.
PARALLEL_OPS = """
import torch
from torch import nn

def test_attention_and_experts_in_a_forked_child():
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(64, 4, batch_first=True)
    x = torch.randn(8, 128, 64)
    out, _ = attn(x, x, x)
    experts = nn.ModuleList(nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64)) for _ in range(4))
    router = torch.softmax(nn.Linear(64, 4)(out), dim=-1)
    mixed = sum(router[..., i : i + 1] * e(out) for i, e in enumerate(experts))
    mixed.sum().backward()
    assert torch.isfinite(mixed).all() and mixed.shape == x.shape
"""


def _workspace(tmp: Path, name: str, source: str) -> Path:
    ws = tmp / name
    ws.mkdir()
    (ws / f"test_{name}.py").write_text(source)
    return ws


def _passed(result, files) -> bool:
    junit = files.get("junit.xml", b"")
    return result.exit_code == 0 and b'failures="0"' in junit and b'errors="0"' in junit


@pytest.fixture
def process_sandbox(runtime_python: str):
    sandbox = ProcessSandbox()
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def docker_sandbox():
    sandbox = docker_or_skip()
    yield sandbox
    sandbox.close()


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def sandbox(request, runtime_python: str):
    if request.param == "process":
        sb = ProcessSandbox()
        yield sb
        sb.close()
    else:
        yield request.getfixturevalue("docker_sandbox")


def _pool(sandbox, trusted: bool) -> WorkerPool:
    pools = [p for key, p in sandbox._pools.items() if (key == trusted or key == (trusted, "2g"))]
    assert len(pools) == 1
    return pools[0]


def test_a_warm_validation_leaves_nothing_for_the_next_in_the_same_worker(sandbox, tmp_path: Path) -> None:
    a = _workspace(tmp_path, "polluter", POLLUTER)
    b = _workspace(tmp_path, "checker", CHECKER)
    first, files_a = sandbox.run_pytest(a, ARGS, trusted=True, timeout=120, memory="2g", collect=["junit.xml"])
    assert first.mode == "warm" and _passed(first, files_a), first.stdout + first.stderr
    second, files_b = sandbox.run_pytest(b, ARGS, trusted=True, timeout=120, memory="2g", collect=["junit.xml"])
    assert second.mode == "warm" and _passed(second, files_b), second.stdout + second.stderr
    pool = _pool(sandbox, True)
    assert pool.started_count == 1  # one worker served both: the isolation is the fork's, not a new worker's
    assert not (a / "left_in_workspace.txt").exists()  # the host's copy is untouched too


def test_an_escape_retires_the_worker_and_the_next_validation_sees_none_of_it(sandbox, tmp_path: Path) -> None:
    a = _workspace(tmp_path, "escaper", ESCAPER)
    b = _workspace(tmp_path, "checker", CHECKER)
    first, _ = sandbox.run_pytest(a, ARGS, trusted=True, timeout=120, memory="2g", collect=["junit.xml"])
    assert first.mode == "warm" and first.exit_code == 0
    pool = _pool(sandbox, True)
    started = pool.started_count
    second, files_b = sandbox.run_pytest(b, ARGS, trusted=True, timeout=120, memory="2g", collect=["junit.xml"])
    assert second.mode == "warm" and _passed(second, files_b), second.stdout + second.stderr
    assert pool.started_count == started + 1  # the escaper's worker was retired, not reused


def test_parallel_ops_run_in_a_forked_child_without_deadlock(sandbox, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "parallel", PARALLEL_OPS)
    result, files = sandbox.run_pytest(ws, ARGS, trusted=True, timeout=120, memory="2g", collect=["junit.xml"])
    assert result.mode == "warm" and not result.timed_out and _passed(result, files), result.stdout + result.stderr


def test_untrusted_code_gets_a_single_use_worker(sandbox, tmp_path: Path) -> None:
    a = _workspace(tmp_path, "polluter", POLLUTER)
    b = _workspace(tmp_path, "checker", CHECKER)
    for ws in (a, b):
        result, files = sandbox.run_pytest(ws, ARGS, trusted=False, timeout=120, memory="2g", collect=["junit.xml"])
        assert result.mode == "pooled" and _passed(result, files), result.stdout + result.stderr
    pool = _pool(sandbox, False)
    assert pool.started_count >= 2 and not pool.reuse


def test_the_fork_server_holds_one_thread_after_warming(runtime_python: str) -> None:
    from agent.sandbox.warm import source

    probe = source().replace('if __name__ == "__main__":', "if False:") + "\nwarm()\nprint(threads())\n"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}  # nothing that limits threads: the server must do it
    out = subprocess.run([runtime_python, "-I", "-c", probe], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


class _BrokenChannel:
    def send(self, obj) -> None:
        raise WarmError("the fork server's input is closed")

    def receive(self, timeout: float) -> dict:
        raise WarmError("the fork server exited")

    def close(self) -> None:
        pass


def test_a_failing_warm_path_falls_back_to_cold_and_says_so(process_sandbox: ProcessSandbox, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "parallel", PARALLEL_OPS)
    pool = process_sandbox._pool(True)
    broken = Worker(_BrokenChannel(), lambda: None, label="broken")  # type: ignore[arg-type]
    pool._idle.append(broken)
    result, files = process_sandbox.run_pytest(ws, ARGS, trusted=True, timeout=120, collect=["junit.xml"])
    assert result.mode == "cold" and "fork server failed" in (result.mode_note or "")
    assert _passed(result, files)  # the verdict comes from the cold run
    assert broken.broken and broken not in pool._idle


# Families whose tests exercise the most of what a warm worker could get wrong: optimizer state and RNG across
# steps, samplers, routing with random noise, integer rounding, in-place weight surgery, pairwise losses. Every
# family's every option combination passes warm in test_templates_check; cold runs of all of them would cost
# a torch start-up each (two minutes on two cores) and test the templates again, not the worker.
WARM_VS_COLD = ["optimizer", "diffusion", "mixture-of-experts", "quantization", "model-merging", "self-supervised"]


def test_every_option_of_a_sample_of_families_gives_the_same_verdict_warm_and_cold(runtime_python: str) -> None:
    families = load_families()
    warm_sb, cold_sb = ProcessSandbox(), ProcessSandbox(warm=False)
    try:
        warm = check_all(families, warm_sb, only=WARM_VS_COLD)
        cold = check_all(families, cold_sb, only=WARM_VS_COLD)
    finally:
        warm_sb.close()
    key = lambda r: (r.family, tuple(r.options), r.hyperparameters)  # noqa: E731
    assert [key(r) for r in warm] == [key(r) for r in cold]
    verdicts = {key(r): (r.ok, r.passed, r.failed) for r in cold}
    differ = [
        (key(r), (r.ok, r.passed, r.failed), verdicts[key(r)])
        for r in warm
        if verdicts[key(r)] != (r.ok, r.passed, r.failed)
    ]
    assert differ == []
    assert {r.family for r in warm} == set(WARM_VS_COLD) and all(r.ok for r in warm) and len(warm) > 30


def test_an_orphaned_fork_server_exits_when_its_caller_dies(runtime_python: str, tmp_path: Path) -> None:
    driver = (
        "import sys, time; from agent.sandbox.process import ProcessSandbox; sb = ProcessSandbox(); "
        "w = sb._pool(True).take(); print(w.label.split()[-1], flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)  # its input closed with its caller: it ended


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_warm_reply_carries_what_the_cold_contract_carries(process_sandbox: ProcessSandbox, tmp_path: Path) -> None:
    ws = tmp_path / "flood"
    ws.mkdir()
    (ws / "test_flood.py").write_text(
        "import sys\n\n\ndef test_flood():\n"
        "    sys.stdout.write('x' * 3_000_000)\n    sys.stdout.flush()\n    assert False\n"
    )
    (ws / "data.json").write_text(json.dumps({"a": 1}))
    warm, files = process_sandbox.run_pytest(
        ws, [*ARGS, "-s"], trusted=True, timeout=60, collect=["junit.xml", "data.json", "../x"]
    )
    cold, cold_files = process_sandbox.exec(
        ws, [process_sandbox.python(), "-m", "pytest", *ARGS, "-s"], timeout=60, collect=["junit.xml", "data.json"]
    )
    assert warm.mode == "warm" and warm.exit_code == cold.exit_code == 1
    assert warm.stdout_truncated and cold.stdout_truncated and len(warm.stdout) == len(cold.stdout)
    assert set(files) == set(cold_files) == {"junit.xml", "data.json"}
