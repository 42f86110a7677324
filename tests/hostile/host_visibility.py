# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Look at the host: its processes, its disks, its kernel knobs. Expect a private PID namespace and
nothing of the host's to see or touch."""

import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_private_pid_namespace():
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    assert len(pids) < 20
    cmdlines = []
    for pid in pids:
        try:
            cmdlines.append(open(f"/proc/{pid}/cmdline", "rb").read())
        except OSError:
            pass
    assert not any(b"dockerd" in c or b"containerd" in c or b"pytest" in c and b"/work" in c for c in cmdlines)


def test_no_host_devices():
    assert not any(name.startswith(("sd", "vd", "nvme", "xvd")) for name in os.listdir("/dev"))
