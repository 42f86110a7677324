# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Write outside the workspace: '..' paths, the host's paths, the host workspace's own path. Expect
failures, and (checked on the host) the host's files and the host workspace unchanged.

In a warm worker the workspace is a folder of the container's /workspace tmpfs, so a '..' write may land
there: inside the container, never on the host; the worker sees it and is retired (checked on the host)."""

import json
import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

PARAMS = json.load(open("params.json"))


def test_escape_workspace():
    open("inside.txt", "w").write("the workspace itself is writable")
    escaped = []
    for target in [
        "../escape.txt",
        "/workspace/../escape.txt",
        "../../../../tmp/../escape.txt",
        PARAMS["host_canary"],
        PARAMS["host_workspace"] + "/planted.txt",
    ]:
        try:
            with open(target, "w") as fh:
                fh.write("escaped")
            if os.getcwd() != "/workspace" and os.path.realpath(target).startswith("/workspace/"):
                continue  # warm: the container's own tmpfs (the host side checks the worker was retired)
            escaped.append(target)
        except OSError:
            pass
    assert escaped == []
    assert not os.path.exists(PARAMS["host_canary"])  # the host's file system is not even visible
