# ruff: noqa: SIM105, SIM115  (hostile data, written the way generated code is)
"""Write a 10 GB file. Expect the fsize ulimit to stop it (EFBIG once SIGXFSZ is ignored)."""

import errno
import os
import signal

import pytest

if not os.path.exists("/.dockerenv"):  # hostile data: only ever inside the docker sandbox
    pytest.skip("hostile case: runs only inside the docker sandbox", allow_module_level=True)

FSIZE = 256 << 20


def test_ten_gigabytes():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    chunk = b"\0" * (1 << 20)
    written, err = 0, None
    with open("big.bin", "wb", buffering=0) as fh:
        try:
            while written < 10 * 1024**3:
                written += fh.write(chunk)
        except OSError as exc:
            err = exc.errno
    assert err in (errno.EFBIG, errno.ENOSPC)
    assert os.path.getsize("big.bin") <= FSIZE
