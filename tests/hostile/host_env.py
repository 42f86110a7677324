# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Read the host's environment: our own, PID 1's, every process's. Print it all. Expect (checked on the
host) the secret injected into the host's environment to appear nowhere."""

import glob
import json
import os

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

PARAMS = json.load(open("params.json"))


def test_dump_environment():
    print(dict(os.environ))
    for path in glob.glob("/proc/*/environ"):
        try:
            print(path, open(path, "rb").read())
        except OSError:
            pass
    assert PARAMS["secret_name"] not in os.environ
