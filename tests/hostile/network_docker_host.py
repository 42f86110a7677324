# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Reach the Docker host: its bridge address, the daemon's TCP ports, the shim's abstract sockets.
Expect all unreachable."""

import json
import os
import socket

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

PARAMS = json.load(open("params.json"))


def test_connect_docker_host():
    assert sorted(os.listdir("/sys/class/net")) == ["lo"]  # refuse to send a single packet otherwise
    for port in (2375, 2376, 22, 80):
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(2)
            s.connect((PARAMS["docker_host"], port))


def test_no_host_unix_sockets():
    names = open("/proc/net/unix").read()
    assert "containerd" not in names and "docker" not in names
