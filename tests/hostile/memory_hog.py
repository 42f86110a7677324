# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Allocate (and touch) far beyond the memory limit. Expect the kernel's OOM killer: oom_killed."""

import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_memory_hog():
    blocks = []
    for _ in range(256):  # 16 GiB if nothing stopped it
        blocks.append(b"\x01" * (64 << 20))
