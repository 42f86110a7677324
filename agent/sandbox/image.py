"""Build the Docker image that runs generated code.

Tags name a hash of the inputs (variant, Dockerfile, requirements), e.g. `lit2code-sandbox:cpu-1a2b3c4d5e6f`,
so a changed input gives a new tag and an unchanged one is never rebuilt. The base image the tag was
built on is kept as a label: asking for another base rebuilds too.

Python packages always come from a wheelhouse made on the host with `pip download`, so no build step
needs the network. `--offline` also makes the base itself: mmdebstrap from this machine's own apt
sources, then `docker import`; no container registry is involved at all.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from agent.sandbox.base import SandboxError
from agent.sandbox.runtime import requirements_file
from agent.settings import sandbox_dir, settings

Log = Callable[[str], None]

REPOSITORY = "lit2code-sandbox"
BASE_REPOSITORY = "lit2code-base"
SUITE = "bookworm"  # its python3 is 3.11, the version the wheelhouse is made for
PYTHON_VERSION = "3.11"
MMDEBSTRAP_INCLUDE = "python3,python3-venv,ca-certificates"
DEFAULT_BASES = {"cpu": "python:3.11-slim-bookworm", "gpu": "nvidia/cuda:12.8.1-runtime-ubuntu22.04"}
LABEL_HASH = "lit2code.inputs"
LABEL_BASE = "lit2code.base"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def variant(gpu: bool) -> str:
    return "gpu" if gpu else "cpu"


def dockerfile(gpu: bool) -> Path:
    return sandbox_dir() / ("Dockerfile.gpu" if gpu else "Dockerfile")


def variant_requirements(text: str, gpu: bool) -> str:
    """requirements.txt as the variant installs it, pinning torch's build so pip never guesses.

    CPU: `torch==X` becomes `torch==X+cpu`, which only the CPU wheel satisfies (never the multi-GB CUDA
    build). GPU: `torch===X` (arbitrary equality) excludes the local `+cpu` wheel a find-links folder may hold.
    """

    def pin(m: re.Match[str]) -> str:
        version = m.group(2)
        if gpu:
            return f"{m.group(1)}==={version.split('+')[0]}"
        return f"{m.group(1)}=={version if '+' in version else version + '+cpu'}"

    return re.sub(r"^(torch)\s*==\s*([^\s;#]+)", pin, text, flags=re.MULTILINE)


def inputs_hash(gpu: bool) -> str:
    """12 hex digits over everything that shapes the image's content (the base is a label, see module doc)."""
    req = requirements_file()
    if not req.exists():
        raise SandboxError(f"{req} is missing: it defines the runtime of generated code")
    h = hashlib.sha256()
    h.update(variant(gpu).encode())
    h.update(dockerfile(gpu).read_bytes())
    h.update(variant_requirements(req.read_text(), gpu).encode())
    return h.hexdigest()[:12]


def image_tag(gpu: bool = False) -> str:
    """The image the docker backend runs: LIT2CODE_SANDBOX_IMAGE[_GPU] overrides the computed tag."""
    config = settings()
    chosen = config.sandbox_image_gpu if gpu else config.sandbox_image
    return chosen or f"{REPOSITORY}:{variant(gpu)}-{inputs_hash(gpu)}"


# --- wheelhouse ------------------------------------------------------------------------------------


def wheelhouse_dir(gpu: bool) -> Path:
    # Keyed by the requirements alone: a Dockerfile edit reuses the wheels.
    req = variant_requirements(requirements_file().read_text(), gpu)
    return settings().cache_dir / f"wheelhouse-{variant(gpu)}-{hashlib.sha256(req.encode()).hexdigest()[:12]}"


def make_wheelhouse(gpu: bool, log: Log = _stderr) -> Path:
    """Download the image's wheels on the host (cp311, manylinux), once per requirements hash."""
    target = wheelhouse_dir(gpu)
    marker = target / ".complete"
    if marker.exists():
        return target
    if target.exists():
        shutil.rmtree(target)  # left half-done by an interrupted build
    target.mkdir(parents=True)
    req = target / "requirements.txt"
    req.write_text(variant_requirements(requirements_file().read_text(), gpu))
    arch = platform.machine()
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--disable-pip-version-check",
        "-r",
        str(req),
        "--only-binary=:all:",
        "-d",
        str(target / "wheels"),
        # The image's interpreter, not necessarily the host's.
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--abi",
        "cp" + PYTHON_VERSION.replace(".", ""),
        "--platform",
        f"manylinux_2_28_{arch}",
    ]
    log(f"Downloading the sandbox's wheels into {target} ...")
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise SandboxError(f"pip download for the sandbox image failed: {tail}")
    marker.touch()
    return target


# --- offline base ---------------------------------------------------------------------------------


def host_apt_sources() -> list[str]:
    """This machine's apt source files that serve the suite (passed to mmdebstrap as MIRROR files)."""
    found = [
        "/etc/apt/sources.list",
        *sorted(glob.glob("/etc/apt/sources.list.d/*.list")),
        *sorted(glob.glob("/etc/apt/sources.list.d/*.sources")),
    ]
    keep = []
    for name in found:
        try:
            text = Path(name).read_text()
        except OSError:
            continue
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if any(re.search(rf"\b{SUITE}\b", ln) for ln in lines):
            keep.append(name)
    return keep


def offline_base_tag() -> str:
    h = hashlib.sha256(f"{SUITE}|{MMDEBSTRAP_INCLUDE}".encode())
    for name in host_apt_sources():
        h.update(Path(name).read_bytes())
    return f"{BASE_REPOSITORY}:{SUITE}-{h.hexdigest()[:12]}"


def build_offline_base(client, log: Log = _stderr) -> str:
    """mmdebstrap a minimal Debian with python3 from the host's apt sources; `docker import` it."""
    tag = offline_base_tag()
    if _image_exists(client, tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        raise SandboxError("`--offline` needs mmdebstrap: install it with `apt-get install -y mmdebstrap`")
    with tempfile.TemporaryDirectory(prefix="lit2code-base-") as tmp:
        tarball = Path(tmp) / "base.tar"
        cmd = [
            "mmdebstrap",
            "--variant=apt",
            f"--include={MMDEBSTRAP_INCLUDE}",
            # Snapshot mirrors carry expired Release dates; docs and locales are dead weight in a sandbox.
            '--aptopt=Acquire::Check-Valid-Until "false"',
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            SUITE,
            str(tarball),
            *host_apt_sources(),
        ]
        log(f"Building the base {tag} with mmdebstrap from this machine's apt sources ...")
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-4:])
            hint = " (it needs root, or unprivileged user namespaces)" if os.geteuid() != 0 else ""
            raise SandboxError(f"mmdebstrap failed{hint}: {tail}")
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repo, tag=version)
    return tag


# --- the image ------------------------------------------------------------------------------------


def _image_exists(client, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    client=None,
    *,
    offline: bool = False,
    gpu: bool = False,
    base: str | None = None,
    force: bool = False,
    log: Log = _stderr,
) -> str:
    """Build (or find) the sandbox image; returns its tag."""
    import docker
    import docker.errors

    client = client or docker.from_env()
    wanted = offline_base_tag() if offline and base is None else base
    tag = image_tag(gpu)
    if not force and _image_exists(client, tag):
        built_on = client.images.get(tag).labels.get(LABEL_BASE)
        # Without an explicit base, any build of these inputs will do (no surprise registry pull).
        if wanted is None or built_on == wanted:
            log(f"{tag} is up to date (built on {built_on}).")
            return tag
    if offline and base is None:
        base = build_offline_base(client, log)
    base = base or DEFAULT_BASES[variant(gpu)]
    wheels = make_wheelhouse(gpu, log)
    with tempfile.TemporaryDirectory(prefix="lit2code-ctx-") as ctx:
        shutil.copy(dockerfile(gpu), Path(ctx) / "Dockerfile")
        shutil.copy(wheels / "requirements.txt", Path(ctx) / "requirements.txt")
        _link_tree(wheels / "wheels", Path(ctx) / "wheels")
        log(f"Building {tag} on {base} ...")
        try:
            stream = client.api.build(
                path=ctx,
                tag=tag,
                buildargs={"BASE_IMAGE": base},
                rm=True,
                forcerm=True,
                decode=True,
                labels={LABEL_HASH: inputs_hash(gpu), LABEL_BASE: base, "lit2code": "1"},
            )
            for chunk in stream:
                if "error" in chunk:
                    raise SandboxError(f"docker build of {tag} failed: {chunk['error'].strip()}")
                line = chunk.get("stream", "").rstrip()
                if line.startswith("Step ") or line.startswith("Successfully"):
                    log(line)
        except docker.errors.APIError as exc:
            raise SandboxError(f"docker build of {tag} failed: {exc.explanation or exc}") from exc
    # The build stage holds the whole wheelhouse (over 1 GB); its cache is useless once inputs change.
    with contextlib.suppress(docker.errors.APIError):
        client.images.prune(filters={"dangling": True, "label": "lit2code.stage=build"})
    return tag


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link the wheels into the build context (copy across file systems): no 200 MB copy per build."""
    dst.mkdir()
    for f in src.iterdir():
        try:
            os.link(f, dst / f.name)
        except OSError:
            shutil.copy2(f, dst / f.name)
