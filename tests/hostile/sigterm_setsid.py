# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Leave a daemon behind: a grandchild in its own session that ignores SIGTERM/SIGHUP and keeps our
stdout open. Expect the run to end when the test ends (not at the timeout) and the daemon to die with
the container."""

import os
import subprocess
import sys
import time

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

DAEMON = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
if os.fork():
    os._exit(0)
os.setsid()
while True:
    print("still here", flush=True)
    time.sleep(0.5)
"""


def test_leave_daemon_behind():
    subprocess.Popen([sys.executable, "-c", DAEMON], start_new_session=True, stdout=sys.__stdout__)
    time.sleep(0.5)
    daemons = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"SIG_IGN" in open(f"/proc/{pid}/cmdline", "rb").read():
                daemons.append(pid)
        except OSError:
            pass
    assert daemons  # it is out there, detached, deaf to SIGTERM, holding our stdout
