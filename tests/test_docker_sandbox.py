"""The docker sandbox: pure pieces without a daemon, then the real backend and its hostile suite.

Docker tests are marked `docker`. Without a daemon or the image they skip with the reason; with
LIT2CODE_REQUIRE_DOCKER=1 they fail instead (CI sets it after `.ci/docker-setup.sh`).
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.sandbox import sandbox_app
from agent.sandbox import SandboxError
from agent.sandbox import docker_backend as db
from agent.sandbox import workspace as ws
from agent.sandbox.image import inputs_hash, variant_requirements
from agent.sandbox.workspace import OUTPUT_CAP_BYTES
from tests.conftest import docker_or_skip

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile"
SECRET_NAME = "LIT2CODE_CANARY_SECRET"
runner = CliRunner()


# --- pure pieces --------------------------------------------------------------------------------------


def test_container_kwargs_carry_every_protection():
    kw = db.container_kwargs(image="img", memory="512m", timeout=10, gpu=False, cpus=1.5, labels={"lit2code": "1"})
    assert kw["network_mode"] == "none"
    assert kw["mem_limit"] == kw["memswap_limit"] == 512 * 1024**2
    assert kw["nano_cpus"] == 1_500_000_000 and kw["pids_limit"] == db.PIDS_LIMIT
    assert kw["user"] == "1000:1000" and kw["read_only"] is True
    assert set(kw["tmpfs"]) == {"/workspace", "/tmp"} and all("size=" in o for o in kw["tmpfs"].values())
    assert kw["cap_drop"] == ["ALL"] and kw["security_opt"] == ["no-new-privileges"] and kw["init"] is True
    assert {u["Name"] for u in kw["ulimits"]} == {"fsize", "nofile", "core"}
    assert "nproc" not in {u["Name"] for u in kw["ulimits"]}  # per-uid across the host: pids_limit instead
    assert "volumes" not in kw and "mounts" not in kw  # no host path at all
    assert set(kw["environment"]) >= {"PATH", "HOME"} and SECRET_NAME not in kw["environment"]
    assert kw["command"][0] == "sleep" and int(kw["command"][1]) == 10 + db.GRACE_S  # bounded lifetime
    assert "device_requests" not in kw


def test_gpu_on_carries_the_device_request():
    kw = db.container_kwargs(image="img", memory="1g", timeout=10, gpu=True, cpus=1, labels={})
    (req,) = kw["device_requests"]
    assert req["Count"] == -1 and req["Capabilities"] == [["gpu"]]
    assert "CUDA_VISIBLE_DEVICES" not in kw["environment"]


def test_resolve_gpu_modes():
    assert db.resolve_gpu("off", True, True) == (False, "gpu off: ran on CPU")
    assert db.resolve_gpu("auto", False, False) == (False, "no nvidia runtime: ran on CPU")
    assert db.resolve_gpu("auto", True, True)[0] is True
    assert db.resolve_gpu("auto", True, False)[0] is False
    with pytest.raises(SandboxError, match="nvidia-container-toolkit"):
        db.resolve_gpu("on", False, False)
    with pytest.raises(SandboxError, match="sandbox build --gpu"):
        db.resolve_gpu("on", True, False)


class _FakeAPI:
    def inspect_image(self, tag):
        return {"Id": tag}


class _FakeClient:
    """Just enough of docker.DockerClient for DockerSandbox.plan()."""

    def __init__(self, runtimes):
        self.api = _FakeAPI()
        self._runtimes = runtimes

    def info(self):
        return {"Runtimes": self._runtimes}


@pytest.fixture
def no_startup_prune(monkeypatch):
    monkeypatch.setattr(db.DockerSandbox, "_pruned_at_startup", True)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)


def test_plan_with_nvidia_runtime_requests_the_gpu(no_startup_prune):
    sb = db.DockerSandbox(client=_FakeClient({"runc": {}, "nvidia": {}}), image="cpu-img", gpu_image="gpu-img")
    kwargs, gpu, note = sb.plan(memory="1g", timeout=5, gpu="on")
    assert gpu is True and kwargs["image"] == "gpu-img" and "GPU" in note
    assert kwargs["device_requests"][0]["Capabilities"] == [["gpu"]]


def test_plan_without_nvidia_runtime(no_startup_prune):
    sb = db.DockerSandbox(client=_FakeClient({"runc": {}}), image="cpu-img", gpu_image="gpu-img")
    with pytest.raises(SandboxError, match="no nvidia runtime.*nvidia-container-toolkit"):
        sb.plan(memory="1g", timeout=5, gpu="on")
    kwargs, gpu, note = sb.plan(memory="1g", timeout=5, gpu="auto")
    assert (gpu, note, kwargs["image"]) == (False, "no nvidia runtime: ran on CPU", "cpu-img")
    assert "device_requests" not in kwargs


def test_safe_relpath():
    assert ws.safe_relpath("junit.xml") == "junit.xml"
    assert ws.safe_relpath("./out/junit.xml") == "out/junit.xml"
    for bad in ("../x", "/etc/passwd", "a/../../x", "", ".", "a/.."):
        assert ws.safe_relpath(bad) is None, bad


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE or kind == tarfile.LNKTYPE:
                info.linkname = data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_collected_keeps_only_requested_regular_files():
    data = _tar(
        [
            ("junit.xml", tarfile.REGTYPE, b"<ok/>"),
            ("link.xml", tarfile.SYMTYPE, "/etc/passwd"),
            ("hard.xml", tarfile.LNKTYPE, "junit.xml"),
            ("../evil", tarfile.REGTYPE, b"x"),
            ("/etc/evil", tarfile.REGTYPE, b"x"),
            ("unasked.txt", tarfile.REGTYPE, b"x"),
            ("big.bin", tarfile.REGTYPE, b"B" * 5000),
        ]
    )
    got = ws.extract_collected(data, {"junit.xml", "link.xml", "hard.xml", "big.bin"}, cap=1000)
    assert got == {"junit.xml": b"<ok/>", "big.bin": b"B" * 1000}
    assert ws.extract_collected(b"not a tar", {"x"}) == {}
    assert ws.extract_collected(data[:700], {"junit.xml"}) in ({}, {"junit.xml": b"<ok/>"})


def test_tar_workspace_copies_files_not_links(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    (tmp_path / "hostlink").symlink_to("/etc/hostname")
    (tmp_path / "dirlink").symlink_to("/etc")
    with tarfile.open(fileobj=io.BytesIO(ws.tar_workspace(tmp_path))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"pkg", "pkg/m.py"}
    assert members["pkg/m.py"].uid == 1000 and members["pkg/m.py"].isreg()
    with pytest.raises(SandboxError, match="too much"):
        ws.tar_workspace(tmp_path, limit=2)


def test_owner_alive():
    me = db.owner_labels(timeout=60)
    assert db.owner_alive(me)
    assert not db.owner_alive({**me, "lit2code.pid_start": "1"})  # the pid was reused
    assert not db.owner_alive({**me, "lit2code.deadline": str(int(time.time()) - 1)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not db.owner_alive(db.owner_labels(timeout=60, pid=dead.pid))


def test_variant_requirements_pin_the_torch_build():
    text = "# c\ntorch==2.13.0\nnumpy==2.4.6\n"
    assert "torch==2.13.0+cpu\n" in variant_requirements(text, gpu=False)
    assert "torch===2.13.0\n" in variant_requirements(text, gpu=True)
    assert "numpy==2.4.6" in variant_requirements(text, gpu=True)


def test_inputs_hash_follows_the_inputs(tmp_path, monkeypatch):
    for name in ("Dockerfile", "Dockerfile.gpu", "requirements.txt"):
        shutil.copy(ROOT / "sandbox" / name, tmp_path / name)
    monkeypatch.setenv("LIT2CODE_SANDBOX_DIR", str(tmp_path))
    before = inputs_hash(False)
    assert inputs_hash(False) == before and inputs_hash(True) != before
    (tmp_path / "Dockerfile").write_text((tmp_path / "Dockerfile").read_text() + "\n# changed\n")
    assert inputs_hash(False) != before


def test_cli_usage_errors_exit_2(tmp_path):
    for args in (
        ["exec", "--workspace", str(tmp_path / "missing"), "--", "true"],
        ["exec", "--workspace", str(tmp_path), "--gpu", "maybe", "--", "true"],
        ["exec", "--workspace", str(tmp_path), "--memory", "lots", "--", "true"],
        ["exec", "--workspace", str(tmp_path), "--backend", "vm", "--", "true"],
    ):
        result = runner.invoke(sandbox_app, args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1


def test_cli_exec_prints_the_contract(tmp_path, monkeypatch):
    runtime = tmp_path / "runtime"  # a stand-in runtime: the command needs no Python packages
    (runtime / "bin").mkdir(parents=True)
    (runtime / ".lit2code-complete").touch()
    monkeypatch.setenv("LIT2CODE_RUNTIME", str(runtime))
    (tmp_path / "ws").mkdir()
    result = runner.invoke(
        sandbox_app,
        ["exec", "--workspace", str(tmp_path / "ws"), "--backend", "process", "--", "sh", "-c", "echo hi; exit 3"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {
        "exit_code",
        "timed_out",
        "oom_killed",
        "duration_s",
        "stdout",
        "stderr",
        "stdout_truncated",
        "backend",
        "image",
        "gpu",
    } <= set(out)
    assert out["exit_code"] == 3 and out["stdout"] == "hi\n" and out["backend"] == "process"


# --- the real backend ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> db.DockerSandbox:
    return docker_or_skip()


@pytest.fixture(scope="module")
def host_secret():
    """A secret in the host's environment (and so in this process's): it must never reach the sandbox."""
    value = "s3cr3t-" + secrets.token_hex(16)
    os.environ[SECRET_NAME] = value
    yield value
    os.environ.pop(SECRET_NAME, None)


def _pytest_cmd(sb, *extra) -> list[str]:
    return [sb.python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=junit.xml", *extra]


def _trivial_ok(sb) -> None:
    """The next container is unharmed: a trivial run succeeds, promptly."""
    with _workspace_dir() as ws:
        result, _ = sb.exec(ws, [sb.python(), "-c", "print('ok')"], timeout=30, memory="512m")
    assert result.exit_code == 0 and result.stdout == "ok\n", result
    assert result.duration_s < 10


class _workspace_dir:
    def __enter__(self) -> Path:
        import tempfile

        self._tmp = tempfile.TemporaryDirectory(prefix="lit2code-test-")
        return Path(self._tmp.name)

    def __exit__(self, *exc) -> None:
        self._tmp.cleanup()


def _docker_cgroup_pids() -> dict[int, str]:
    """Host pids that live in a docker container's cgroup, with that container's id."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if match := re.search(r"docker[-/]([0-9a-f]{64})", cgroup):  # cgroupfs or systemd driver
            found[int(pid)] = match.group(1)
    return found


def _uid_pids(uid: int) -> set[int]:
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                pids.add(int(pid))
        except OSError:
            pass
    return pids


def _dockerd_rss_mib() -> float | None:
    """dockerd's resident memory, when the daemon runs on this machine."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd":
                rss = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("VmRSS"))
                return int(rss.split()[1]) / 1024
        except (OSError, StopIteration):
            continue
    return None


class _Sampler(threading.Thread):
    """Watches the host while a case runs: the most processes any container held, dockerd's peak memory."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.max_pids = 0
        self.dockerd_peak = _dockerd_rss_mib()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            per_container: dict[str, int] = {}
            for cid in _docker_cgroup_pids().values():
                per_container[cid] = per_container.get(cid, 0) + 1
            self.max_pids = max([self.max_pids, *per_container.values()])
            rss = _dockerd_rss_mib()
            if rss is not None and self.dockerd_peak is not None:
                self.dockerd_peak = max(self.dockerd_peak, rss)

    def __enter__(self) -> _Sampler:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_event.set()
        self.join()


def _assert_host_unharmed(sb, canary: Path, host_ws: Path, host_ws_files: set[str], uid_before: set[int]) -> None:
    # No container of ours is left, running or stopped, but the idle workers kept for the next validation.
    ours = sb.client.containers.list(all=True, filters={"label": f"lit2code.pid={os.getpid()}"})
    kept = _worker_containers(sb)
    assert [c.short_id for c in ours if c.id not in kept] == []
    # No process outlived its container: every process in a docker cgroup belongs to a live container.
    live = {c.id for c in sb.client.containers.list()}
    orphans = {pid: cid for pid, cid in _docker_cgroup_pids().items() if cid not in live}
    assert orphans == {}
    # No sandbox-user process escaped the container cgroups onto the host.
    stray = _uid_pids(1000) - uid_before - set(_docker_cgroup_pids())
    assert stray == set()
    # The host's files and the host copy of the workspace are untouched.
    assert canary.read_text() == "untouched"
    assert {p.name for p in host_ws.iterdir()} == host_ws_files


CASES = {
    # name: (timeout, memory, extra pytest args, collect)
    "fork_bomb": (6, "512m", [], []),
    "memory_hog": (60, "1g", [], []),  # room for a warm fork server (torch loaded), far below the hog
    "infinite_loop": (5, "512m", [], []),
    "sigterm_setsid": (60, "512m", ["-s"], []),
    "stdout_flood": (120, "512m", ["-s"], []),
    "write_system": (60, "512m", [], []),
    "write_outside": (60, "512m", [], []),
    "big_file": (60, "1g", [], []),
    "network_public": (60, "512m", [], []),
    "network_docker_host": (60, "512m", [], []),
    "host_env": (60, "512m", ["-s"], []),
    "docker_socket": (60, "512m", [], []),
    "setuid_escalation": (60, "512m", [], []),
    "copy_out_tricks": (
        60,
        "512m",
        [],
        [
            "ok.txt",
            "trap.xml",
            "linkdir/passwd",
            "sub/report.xml",
            "fifo",
            "big.bin",
            "../etc/passwd",
            "/etc/passwd",
            "sub/../ok.txt",
        ],
    ),
    "zombies": (60, "512m", [], []),
    "host_visibility": (60, "512m", [], []),
    "kill_everything": (60, "512m", [], []),
}


# Cases that take the warm fork server down with them: kill_everything signals every process of the
# sandbox user; a fork bomb of forks of a torch-loaded interpreter fills the memory limit and the OOM
# killer takes the largest process, the server.
KILLS_THE_SERVER = {"kill_everything", "fork_bomb"}


def _docker_host_address(sb) -> str:
    bridge = sb.client.networks.get("bridge")
    return bridge.attrs["IPAM"]["Config"][0].get("Gateway") or "172.17.0.1"


def _worker_containers(sb) -> dict[str, object]:
    """The warm and pooled workers the sandbox keeps between validations, by container id, once no
    worker is being started or retired in the background."""
    for pool in sb._pools.values():
        pool.settle()
    return {w.handle: w for pool in sb._pools.values() for w in pool._idle}


def _assert_workers_clean(sb) -> None:
    """A worker left for the next validation holds only PID 1, its idle keeper and the fork server."""
    for cid in _worker_containers(sb):
        procs = sb.client.api.top(cid)["Processes"]
        assert len(procs) <= 3, procs


@pytest.mark.docker
@pytest.mark.parametrize("mode", ["cold", "pooled", "warm"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile(case, mode, sandbox, host_secret, tmp_path):
    timeout, memory, extra, collect = CASES[case]
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(HOSTILE / f"{case}.py", ws / "test_case.py")
    (ws / "hostlink").symlink_to(canary)  # a host symlink: must not be followed into the sandbox
    (ws / "params.json").write_text(
        json.dumps(
            {
                "host_canary": str(canary),
                "host_workspace": str(ws),
                "secret_name": SECRET_NAME,
                "docker_host": _docker_host_address(sandbox),
            }
        )
    )
    ws_files = {p.name for p in ws.iterdir()}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    uid_before = _uid_pids(1000) - set(_docker_cgroup_pids())

    dockerd_before = _dockerd_rss_mib()
    with _Sampler() as host:
        if mode == "cold":
            result, files = sandbox.exec(
                ws,
                _pytest_cmd(sandbox, *extra, "test_case.py"),
                timeout=timeout,
                memory=memory,
                collect=collect + ["junit.xml"],
            )
        else:
            result, files = sandbox.run_pytest(
                ws,
                _pytest_cmd(sandbox, *extra, "test_case.py")[3:],
                trusted=mode == "warm",
                timeout=timeout,
                memory=memory,
                collect=collect + ["junit.xml"],
            )
    output = result.stdout + result.stderr

    if case in KILLS_THE_SERVER and mode != "cold":
        # The fork server dies too: that validation falls back to a cold run, and says so.
        assert result.mode == "cold" and "failed" in (result.mode_note or ""), result
    else:
        assert result.mode == mode, (result.mode, result.mode_note)

    assert result.backend == "docker" and result.image and result.gpu is False
    assert host_secret not in output and all(host_secret.encode() not in v for v in files.values())
    assert len(result.stdout) <= OUTPUT_CAP_BYTES and len(result.stderr) <= OUTPUT_CAP_BYTES
    assert host.max_pids <= db.PIDS_LIMIT + 3  # + init, the idle keeper and (warm) the fork server
    if dockerd_before is not None and host.dockerd_peak is not None:
        assert host.dockerd_peak - dockerd_before < 256, "dockerd buffered the output"
    if case == "fork_bomb" or case == "infinite_loop":
        assert result.timed_out and result.exit_code == -9
        assert timeout <= result.duration_s < timeout + 10
        if case == "fork_bomb":
            assert host.max_pids > 100  # it did bomb, and the pids limit held it
    elif case == "memory_hog":
        assert result.oom_killed and not result.timed_out, result
        assert result.exit_code == 137
    elif case == "sigterm_setsid":
        assert result.exit_code == 0 and not result.timed_out, output
        assert result.duration_s < 30  # ended with the test, not with the daemon it left behind
    elif case == "stdout_flood":
        assert result.stdout_truncated and len(result.stdout) == OUTPUT_CAP_BYTES
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        assert grown_mib < 64, f"host process grew {grown_mib:.0f} MiB reading 1 GiB of output"
    elif case == "copy_out_tricks":
        assert result.exit_code == 0, output
        assert set(files) == {"ok.txt", "big.bin", "junit.xml"}  # no symlink, symlinked dir, FIFO or '..'
        assert b'failures="0"' in files["junit.xml"]
        assert files["ok.txt"] == b"fine" and files["big.bin"] == b"B" * OUTPUT_CAP_BYTES
    elif case == "kill_everything":
        assert result.exit_code != 0 and not result.timed_out and result.duration_s < 30, result
    else:
        assert result.exit_code == 0 and not result.timed_out and not result.oom_killed, output
        assert b'failures="0"' in files.get("junit.xml", b""), output
    if case == "write_outside" and mode != "cold":
        assert "worker retired: files written outside the workspace" in (result.mode_note or ""), result
    if case == "host_env":
        assert SECRET_NAME not in output and "PATH" in output  # it did print the environment

    _assert_workers_clean(sandbox)
    _assert_host_unharmed(sandbox, canary, ws, ws_files, uid_before)
    _trivial_ok(sandbox)


@pytest.mark.docker
def test_orchestrator_crash_then_prune(sandbox, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(HOSTILE / "sleeper.py", ws / "test_case.py")
    driver = (
        "import sys; from pathlib import Path; from agent.sandbox.docker_backend import DockerSandbox; "
        "sb = DockerSandbox(); "
        f"sb.exec(Path({str(ws)!r}), [sb.python(), '-m', 'pytest', '-q', 'test_case.py'], timeout=120)"
    )
    orchestrator = subprocess.Popen([sys.executable, "-c", driver], cwd=ROOT)
    label = f"lit2code.pid={orchestrator.pid}"
    deadline = time.monotonic() + 60
    while not sandbox.client.containers.list(filters={"label": label}):
        assert time.monotonic() < deadline and orchestrator.poll() is None, "the run never started"
        time.sleep(0.2)
    time.sleep(1.5)  # mid-run: the test is sleeping inside
    orchestrator.send_signal(signal.SIGKILL)
    orchestrator.wait()

    left = sandbox.client.containers.list(all=True, filters={"label": label})
    assert len(left) == 1 and left[0].status == "running"  # the crash left it behind
    result = runner.invoke(sandbox_app, ["prune"])
    assert result.exit_code == 0 and left[0].short_id in result.output, result.output
    assert sandbox.client.containers.list(all=True, filters={"label": label}) == []
    live = {c.id for c in sandbox.client.containers.list()}
    assert all(cid in live for cid in _docker_cgroup_pids().values())
    _trivial_ok(sandbox)


@pytest.mark.docker
def test_validation_of_a_module(sandbox, tmp_path):
    """The ordinary path: a small torch module and its tests pass, and the junit XML comes back."""
    (tmp_path / "lora.py").write_text(
        "import torch\n\nclass LoRA(torch.nn.Module):\n"
        "    def __init__(self, d=8, r=2):\n        super().__init__()\n"
        "        self.base = torch.nn.Linear(d, d)\n        self.a = torch.nn.Parameter(torch.randn(r, d))\n"
        "        self.b = torch.nn.Parameter(torch.zeros(d, r))\n"
        "    def forward(self, x):\n        return self.base(x) + x @ self.a.T @ self.b.T\n"
    )
    (tmp_path / "test_lora.py").write_text(
        "import torch\nfrom lora import LoRA\n\ndef test_zero_b_is_identity():\n"
        "    m = LoRA()\n    x = torch.randn(3, 8)\n    assert torch.allclose(m(x), m.base(x))\n"
    )
    result, files = sandbox.exec(tmp_path, _pytest_cmd(sandbox), timeout=120, memory="2g", collect=["junit.xml"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert b'tests="1"' in files["junit.xml"] and b'failures="0"' in files["junit.xml"]
    assert not (tmp_path / "junit.xml").exists()  # the host's copy is untouched


@pytest.mark.docker
def test_gpu_auto_falls_back_and_on_fails_without_runtime(sandbox, tmp_path):
    if sandbox.gpu_runtime():
        pytest.skip("this daemon has an nvidia runtime")
    result, _ = sandbox.exec(tmp_path, ["true"], timeout=30, memory="256m", gpu="auto")
    assert result.exit_code == 0 and result.gpu is False and result.gpu_note == "no nvidia runtime: ran on CPU"
    with pytest.raises(SandboxError, match="nvidia-container-toolkit"):
        sandbox.exec(tmp_path, ["true"], timeout=30, gpu="on")
    cli = runner.invoke(sandbox_app, ["exec", "--workspace", str(tmp_path), "--gpu", "on", "--", "true"])
    assert cli.exit_code == 1 and "nvidia" in cli.output


@pytest.mark.docker
def test_cli_exec_docker_json(sandbox, tmp_path):
    result = runner.invoke(
        sandbox_app, ["exec", "--workspace", str(tmp_path), "--timeout", "30", "--", "sh", "-c", "id -u; echo err >&2"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["stdout"] == "1000\n" and out["stderr"] == "err\n" and out["backend"] == "docker"
    assert out["image"] == sandbox.image() and out["gpu"] is False


@pytest.mark.docker
def test_doctor_reports_a_working_setup(sandbox):
    result = runner.invoke(sandbox_app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "Docker daemon reachable" in result.output and "hardened container runs" in result.output
