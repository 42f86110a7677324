# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Write to /, /etc, the interpreter's site-packages, /proc/sys and the cgroup files. Expect every write
to fail (read-only root, no capabilities)."""

import glob
import os
import sys

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

TARGETS = [
    "/evil",
    "/etc/passwd",
    "/etc/evil",
    "/usr/bin/evil",
    "/opt/venv/evil.pth",
    sys.prefix + "/lib/python3.11/site-packages/evil.pth",
    "/proc/sys/kernel/hostname",
    "/proc/sysrq-trigger",
    *glob.glob("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    *glob.glob("/sys/fs/cgroup/pids/pids.max"),
    *glob.glob("/sys/fs/cgroup/memory.max"),
]


def test_system_is_read_only():
    written = []
    for target in TARGETS:
        try:
            with open(target, "a") as fh:
                fh.write("9999999999\n")
            written.append(target)
        except OSError:
            pass
    assert written == []


def test_root_mounted_read_only():
    root = [line.split() for line in open("/proc/mounts") if line.split()[1] == "/"]
    assert root and "ro" in root[-1][3].split(",")
