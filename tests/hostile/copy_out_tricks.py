# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Plant traps for the files the orchestrator copies out: symlinks to system files, a symlinked
directory, a FIFO, an oversized file. Expect (checked on the host) only the regular files asked for,
capped, and nothing of the host's symlink copied in."""

import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_plant_traps():
    assert not os.path.lexists("hostlink")  # the host workspace's symlink was not copied in
    open("ok.txt", "w").write("fine")
    os.symlink("/etc/passwd", "trap.xml")
    os.symlink("/etc", "linkdir")
    os.mkfifo("fifo")
    with open("big.bin", "wb") as fh:
        fh.write(b"B" * (5 << 20))
    os.makedirs("sub", exist_ok=True)
    os.symlink("../../../etc/shadow", "sub/report.xml")
