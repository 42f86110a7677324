# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""SIGKILL every process it may signal, the container's own keeper included (same uid), then itself.
Expect a plain failed result (not a sandbox error), and nothing left behind."""

import os
import signal

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_kill_everything():
    os.kill(-1, signal.SIGKILL)
