# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Spin forever. Expect the hard timeout to kill the container and nothing to be left running."""

import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_spin():
    while True:
        pass
