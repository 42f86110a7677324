"""`lit2code sandbox ...`: build the image, run a command in the sandbox, check the setup, reap leftovers.

Exit codes as everywhere in lit2code: 2 for usage or input errors, 1 for anything else.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from agent.cli.common import fail
from agent.registry import SANDBOXES
from agent.sandbox import SandboxError, get_sandbox
from agent.sandbox.base import parse_size

sandbox_app = typer.Typer(
    name="sandbox",
    help="The sandbox that runs generated code: build its image, run commands in it, check it, clean up.",
    no_args_is_help=True,
    add_completion=False,
)


def _docker_client():
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:  # no SDK, no socket, a daemon that does not answer
        raise fail(f"cannot reach the Docker daemon ({exc}); `lit2code sandbox doctor` explains", 1) from exc


@sandbox_app.command()
def build(
    offline: Annotated[
        bool, typer.Option("--offline", help="No container registry: mmdebstrap base + host wheelhouse.")
    ] = False,
    gpu: Annotated[bool, typer.Option("--gpu", help="Build the GPU (CUDA) variant.")] = False,
    base: Annotated[str | None, typer.Option("--base", help="Base image to build on (default per variant).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the inputs did not change.")] = False,
) -> None:
    """Build the sandbox image, tagged by a hash of its inputs (a no-op when they did not change)."""
    from agent.sandbox.image import build_image

    client = _docker_client()
    started = time.monotonic()
    try:
        tag = build_image(
            client, offline=offline, gpu=gpu, base=base, force=force, log=lambda msg: typer.echo(msg, err=True)
        )
    except SandboxError as exc:
        raise fail(str(exc), 1) from exc
    typer.echo(f"{tag} ready ({time.monotonic() - started:.0f} s)", err=True)
    typer.echo(tag)


@sandbox_app.command("exec", context_settings={"allow_interspersed_args": False})
def exec_(
    cmd: Annotated[list[str], typer.Argument(help="The command, after `--`.", show_default=False)],
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Folder copied into the sandbox as its cwd.")],
    backend: Annotated[str, typer.Option("--backend", help=" or ".join(SANDBOXES) + ".")] = "docker",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds before the whole run is killed.")] = 300.0,
    memory: Annotated[str, typer.Option("--memory", help="Memory limit (= memory+swap), e.g. 512m, 4g.")] = "4g",
    gpu: Annotated[str, typer.Option("--gpu", help="auto, on or off.")] = "off",
) -> None:
    """Run CMD over a copy of the workspace; prints one JSON object (SandboxResult)."""
    if not workspace.is_dir():
        raise fail(f"--workspace {workspace}: no such directory", 2)
    if backend not in SANDBOXES:
        raise fail(f"--backend {backend!r}: use {' or '.join(SANDBOXES)}", 2)
    if gpu not in ("auto", "on", "off"):
        raise fail(f"--gpu {gpu!r}: use auto, on or off", 2)
    if timeout <= 0:
        raise fail(f"--timeout {timeout}: must be positive", 2)
    try:
        if parse_size(memory) < 6 * 1024**2:
            raise ValueError
    except ValueError:
        raise fail(f"--memory {memory!r}: use a size like 512m or 4g (at least 6m)", 2) from None
    gpu_mode: Literal["auto", "on", "off"] = gpu  # type: ignore[assignment]
    try:
        result, _ = get_sandbox(backend).exec(workspace, list(cmd), timeout=timeout, memory=memory, gpu=gpu_mode)
    except SandboxError as exc:
        raise fail(str(exc), 1) from exc
    typer.echo(result.model_dump_json())


@sandbox_app.command()
def prune(
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every lit2code container, even a live run's.")
    ] = False,
    images: Annotated[bool, typer.Option("--images", help="Also remove sandbox images of outdated inputs.")] = False,
) -> None:
    """Remove sandbox containers whose owning process is gone (or all with --all)."""
    from agent.sandbox.docker_backend import prune as prune_containers
    from agent.sandbox.image import REPOSITORY, image_tag

    client = _docker_client()
    removed = prune_containers(client, everything=everything)
    typer.echo(f"removed {len(removed)} container(s)" + (f": {' '.join(removed)}" if removed else ""))
    if images:
        current = {image_tag(False), image_tag(True)}
        stale = [t for img in client.images.list(name=REPOSITORY) for t in img.tags if t not in current]
        for tag in stale:
            client.images.remove(tag)
        typer.echo(f"removed {len(stale)} outdated image(s)" + (f": {' '.join(stale)}" if stale else ""))


@sandbox_app.command()
def doctor() -> None:
    """Say in plain words what works (daemon, image, GPU runtime) and how to fix what does not."""
    from agent.sandbox import docker_backend as db
    from agent.sandbox.image import image_tag

    ok = True

    def line(good: bool, what: str, fix: str = "", optional: bool = False) -> None:
        mark = "ok" if good else "--" if optional else "!!"  # '--': missing but not needed to validate
        typer.echo(f"[{mark}] {what}" + (f"\n     fix: {fix}" if fix and not good else ""))

    try:
        import docker
    except ImportError:
        line(False, "the docker Python SDK is not installed", "pip install 'docker>=7.1' in lit2code's environment")
        raise typer.Exit(1) from None
    try:
        client = docker.from_env()
        version = client.version()
        line(True, f"Docker daemon reachable (server {version.get('Version', '?')}, API {version.get('ApiVersion')})")
    except Exception as exc:
        line(
            False,
            f"Docker daemon not reachable ({exc})",
            "install it (`apt-get install docker.io`), start it (`dockerd &` or `systemctl start docker`), "
            "and make sure this user may use /var/run/docker.sock (or set DOCKER_HOST)",
        )
        line(
            shutil.which("mmdebstrap") is not None,
            "mmdebstrap present (for `sandbox build --offline`)",
            "apt-get install mmdebstrap",
        )
        raise typer.Exit(1) from None
    info = client.info()
    warnings = [w for w in info.get("Warnings") or [] if "limit" in w.lower() or "swap" in w.lower()]
    line(
        not warnings,
        "the daemon enforces memory and swap limits" + (f": {'; '.join(warnings)}" if warnings else ""),
        "enable cgroup memory/swap accounting on the host kernel",
    )
    sandbox = db.DockerSandbox(client=client)
    cpu_tag = image_tag(False)
    has_cpu = sandbox.has_image(cpu_tag)
    ok &= has_cpu
    line(
        has_cpu,
        f"sandbox image {cpu_tag} {'built' if has_cpu else 'missing'}",
        "lit2code sandbox build --offline   (or without --offline where a registry is reachable)",
    )
    if has_cpu:
        ok &= _smoke(sandbox, line)
    runtime = sandbox.gpu_runtime()
    line(
        runtime,
        "nvidia runtime "
        + ("present: --gpu auto/on can use the GPU" if runtime else "absent: --gpu auto runs on CPU, --gpu on fails"),
        db.NVIDIA_HINT,
        optional=True,
    )
    if runtime:
        gpu_tag = image_tag(True)
        line(
            sandbox.has_image(gpu_tag),
            f"GPU image {gpu_tag}",
            "lit2code sandbox build --gpu [--offline]",
            optional=True,
        )
    leftovers = [
        c for c in client.containers.list(all=True, filters={"label": db.LABEL}) if not db.owner_alive(c.labels)
    ]
    line(not leftovers, f"{len(leftovers)} leftover sandbox container(s) from crashed runs", "lit2code sandbox prune")
    line(
        shutil.which("mmdebstrap") is not None,
        "mmdebstrap present (for `sandbox build --offline`)",
        "apt-get install mmdebstrap",
    )
    raise typer.Exit(0 if ok else 1)


def _smoke(sandbox, line) -> bool:
    """Run one trivial command through the full hardened path: proves the protections are accepted."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result, _ = sandbox.exec(
                Path(tmp), [sandbox.python(), "-c", "import torch, pytest; print('ok')"], timeout=60, memory="1g"
            )
        except SandboxError as exc:
            line(False, f"a hardened container does not start: {exc}", "see the message; `docker info` may help")
            return False
    good = result.exit_code == 0 and "ok" in result.stdout
    line(
        good,
        f"a hardened container runs torch and pytest ({result.duration_s:.2f} s)"
        + ("" if good else f": exit {result.exit_code}: {result.stderr.strip()[-200:]}"),
        "rebuild the image: lit2code sandbox build --offline --force",
    )
    return good
