# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Write outside the workspace: '..' paths, the host's paths, the host workspace's own path. Expect
failures, and (checked on the host) the host's files and the host workspace unchanged."""

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
            escaped.append(target)
        except OSError:
            pass
    assert escaped == []
    assert not os.path.exists(PARAMS["host_canary"])  # the host's file system is not even visible
