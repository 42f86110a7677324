# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Write 1 GiB to stdout. Expect the output to be capped and the host's memory to stay flat."""

import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_flood():
    chunk = b"A" * (1 << 20)
    for _ in range(1024):
        os.write(1, chunk)
