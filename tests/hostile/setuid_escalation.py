# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Become root: setuid binaries, setuid(0), mount, a user namespace, a setuid copy of our own.
Expect no capability and no way up."""

import os
import shutil
import stat
import subprocess

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def status(key):
    return next(line.split()[1] for line in open("/proc/self/status") if line.startswith(key + ":"))


def test_no_privileges():
    assert os.getuid() == 1000 and os.geteuid() == 1000
    assert status("NoNewPrivs") == "1"
    assert int(status("CapEff"), 16) == 0 and int(status("CapBnd"), 16) == 0


def test_no_setuid_binaries():
    found = []
    for root in ("/usr", "/bin", "/sbin", "/opt"):
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                try:
                    if os.lstat(p).st_mode & (stat.S_ISUID | stat.S_ISGID):
                        found.append(p)
                except OSError:
                    pass
    assert found == []


def test_escalation_fails():
    with pytest.raises(PermissionError):
        os.setuid(0)
    for cmd in (
        ["su", "-c", "id", "root"],
        ["mount", "-t", "tmpfs", "none", "/tmp"],
        ["unshare", "-r", "id", "-u"],
        ["chroot", "/", "id"],
    ):
        if shutil.which(cmd[0]):
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            assert done.returncode != 0, cmd


def test_own_setuid_copy_gains_nothing():
    shutil.copy("/usr/bin/id", "myid")
    os.chmod("myid", 0o4755)
    try:
        out = subprocess.run(["./myid", "-u"], capture_output=True, text=True).stdout.strip()
    except PermissionError:
        return  # the workspace is mounted noexec: it cannot even run
    assert out == "1000"  # nosuid and no-new-privileges: the bit is ignored
