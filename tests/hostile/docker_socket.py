# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Reach the Docker daemon: its sockets and binaries. Expect nothing there."""

import os
import shutil
import socket

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

SOCKETS = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
]


def test_no_docker_socket():
    for path in SOCKETS:
        assert not os.path.exists(path)
        with socket.socket(socket.AF_UNIX) as s, pytest.raises(OSError):
            s.connect(path)
    assert shutil.which("docker") is None and shutil.which("dockerd") is None
