"""What every backend needs to move code in and results out safely, in one place.

In: only directories and regular files, no symlinks or special files, at most WORKSPACE_MAX_BYTES
(`copy_workspace` for a folder on this host, `tar_workspace` for a container). Out: only the files asked
for, named by clean relative paths (`safe_relpath`), opened component by component without following a
symlink, regular files only, each cut at a cap (`read_regular_files`, which lives in agent.sandbox.zygote
because it also runs inside sandboxes; `extract_collected` for a tar from a container). The code under
test wrote those folders, so nothing in them is trusted.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from agent.sandbox.base import SandboxError

OUTPUT_CAP_BYTES = 1_000_000  # per stream and per collected file
WORKSPACE_MAX_BYTES = 64 * 1024**2  # what we copy in: generated modules are kilobytes
SANDBOX_UID = 1000


class WorkspaceTooLarge(SandboxError):
    pass


def safe_relpath(name: str) -> str | None:
    """A collect name as a clean relative path inside the workspace, or None ('..', absolute, empty)."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in ("..", "") for p in path.parts):
        return None
    clean = "/".join(p for p in path.parts if p != ".")
    return clean or None


def walk_workspace(workspace: Path, limit: int = WORKSPACE_MAX_BYTES) -> Iterator[tuple[str, Path, bool]]:
    """(relative name, path, is_dir) of the directories and regular files under `workspace`, sorted;
    symlinks and special files stay behind. Raises WorkspaceTooLarge past `limit` bytes of files."""
    total = 0
    for root, dirs, names in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        rel_root = os.path.relpath(root, workspace)
        for d in dirs:
            yield os.path.normpath(os.path.join(rel_root, d)), Path(root, d), True
        for n in sorted(names):
            path = os.path.join(root, n)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            total += os.path.getsize(path)
            if total > limit:
                raise WorkspaceTooLarge(f"{workspace} holds over {limit >> 20} MiB: too much to copy into the sandbox")
            yield os.path.normpath(os.path.join(rel_root, n)), Path(path), False


def copy_workspace(workspace: Path, target: Path, limit: int = WORKSPACE_MAX_BYTES) -> None:
    """Copy what `walk_workspace` admits into `target` (created), keeping the executable bit only."""
    target.mkdir(parents=True)
    for rel, path, is_dir in walk_workspace(workspace, limit):
        dest = target / rel
        if is_dir:
            dest.mkdir()
        else:
            shutil.copyfile(path, dest)
            if os.access(path, os.X_OK):
                dest.chmod(0o755)


def tar_workspace(workspace: Path, limit: int = WORKSPACE_MAX_BYTES, prefix: str = "") -> bytes:
    """The workspace as a tar owned by the sandbox user: directories and regular files only, under the
    folder `prefix` when one is given."""
    buf = io.BytesIO()
    entries = list(walk_workspace(workspace, limit))
    if prefix:
        entries = [(prefix, workspace, True)] + [(f"{prefix}/{rel}", path, d) for rel, path, d in entries]
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel, path, is_dir in entries:
            info = tarfile.TarInfo(rel)
            info.uid = info.gid = SANDBOX_UID
            info.mtime = int(time.time())
            if is_dir:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.type, info.mode = tarfile.REGTYPE, 0o755 if os.access(path, os.X_OK) else 0o644
            info.size = path.stat().st_size
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
    return buf.getvalue()


def extract_collected(data: bytes, wanted: set[str], cap: int = OUTPUT_CAP_BYTES) -> dict[str, bytes]:
    """Read a collect tar: only regular files we asked for, each at most `cap` bytes. The tar came from a
    place untrusted code shared, so nothing in it is trusted: no links, no other names."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                name = safe_relpath(member.name)
                if name is None or name not in wanted or not member.isreg() or name in files:
                    continue
                fh = tar.extractfile(member)
                if fh is not None:
                    files[name] = fh.read(cap)
    except tarfile.TarError:
        pass  # a truncated or forged stream yields what was sound before the damage
    return files
