# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Reach the internet (1.1.1.1) and DNS. Expect no interface but loopback, so nothing ever leaves.
If an interface did exist the test fails before sending anything."""

import os
import socket

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)


def test_no_network_at_all():
    interfaces = sorted(os.listdir("/sys/class/net"))
    assert interfaces == ["lo"], f"network present: {interfaces}"  # refuse to send a single packet


def test_connect_public_address():
    assert sorted(os.listdir("/sys/class/net")) == ["lo"]
    for port in (53, 443):
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(2)
            s.connect(("1.1.1.1", port))
    with pytest.raises(OSError):
        socket.getaddrinfo("example.org", 443)
