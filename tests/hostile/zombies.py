# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Leave zombies: unreaped children, and orphaned grandchildren. Expect the container's init to reap
the orphans and the whole brood to vanish with the container."""

import os
import time

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def zombies(ppid=None):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] == "Z" and (ppid is None or int(stat[1]) == ppid):
            found.append(pid)
    return found


def test_make_zombies():
    for _ in range(50):
        if os.fork() == 0:
            os._exit(0)
    time.sleep(0.3)
    assert len(zombies(os.getpid())) == 50  # ours until we exit: we never wait()
    for _ in range(20):
        if os.fork() == 0:  # child: orphan a grandchild, which then exits
            if os.fork() == 0:
                time.sleep(0.2)
                os._exit(0)
            os._exit(0)
    time.sleep(1.0)
    assert zombies(1) == []  # init=True: PID 1 reaps what is reparented to it
