# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Sleep a long while: the workload of the orchestrator-crash case (the host kills the orchestrator
mid-run, then checks that `prune` reaps the container)."""

import os
import time

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_sleep():
    time.sleep(300)
