# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Fork bomb: every process forks forever. Expect the pids limit to hold and the timeout to kill it all."""

import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_fork_bomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass
