"""The dedicated Python runtime of generated code for the process backend.

Created on first use from sandbox/requirements.txt into a folder keyed by that file's hash, and
reused after; a changed requirements file gives a new runtime. A lock makes concurrent first uses
(several papers, several processes) build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from agent.sandbox.base import SandboxError
from agent.settings import sandbox_dir, settings


def requirements_file() -> Path:
    return sandbox_dir() / "requirements.txt"


def runtime_dir() -> Path:
    """LIT2CODE_RUNTIME if set, else CACHE_DIR/runtime-HASH (the hash of requirements.txt)."""
    config = settings()
    if config.runtime:
        return config.runtime
    req = requirements_file()
    digest = hashlib.sha256(req.read_bytes()).hexdigest()[:12] if req.exists() else "none"
    return config.cache_dir / f"runtime-{digest}"


def ensure_runtime(log=None) -> Path:
    """Return a ready runtime folder, building it if needed (several minutes at most, once)."""
    target = runtime_dir()
    marker = target / ".lit2code-complete"
    if marker.exists():
        return target
    req = requirements_file()
    if not req.exists():
        raise SandboxError(f"{req} is missing: it defines the runtime of generated code")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():  # another process built it while we waited
            return target
        if target.exists():
            shutil.rmtree(target)  # a half-built runtime from an interrupted first use
        (log or (lambda msg: print(msg, file=sys.stderr)))(
            f"Creating the sandbox runtime from {req} in {target} (first use only)..."
        )
        steps = [
            [sys.executable, "-m", "venv", str(target)],
            [
                str(target / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(req),
            ],
        ]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise SandboxError(
                    f"building the sandbox runtime failed ({' '.join(step[:4])} ...): " + " | ".join(tail)
                )
        marker.write_text(req.read_text())
    return target
