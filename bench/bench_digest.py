"""lit2code's whole pipeline on a digest against the naive script a user would write, in one run.

    .venv/bin/python bench/bench_digest.py [DIGEST] [--json]

1. `lit2code run DIGEST --sandbox docker` (offline planner) into a fresh repository, timed from the
   command's start to its exit: triage, planning, rendering, validation and commits of every paper.
2. The naive baseline over the modules that run committed: one hardened `docker run --rm ... pytest
   papers/SLUG` per module (no network, memory = memory+swap, pids and CPU limits, read-only root, a
   non-root user, no capabilities, the repository mounted read-only), as many at a time as there are cores.

Prints both wall times and their ratio. Target: lit2code at most 0.35x the naive baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.sandbox.image import image_tag  # noqa: E402

TARGET = 0.35


def naive(repo: Path, slug: str, image: str) -> tuple[float, int]:
    cmd = [
        "docker", "run", "--rm", "--network", "none", "--memory", "4g", "--memory-swap", "4g", "--cpus", "1.5",
        "--pids-limit", "256", "--read-only", "--tmpfs", "/tmp:rw,size=256m", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--user", "1000:1000", "--init",
        "-e", "HOME=/tmp", "-e", "PYTHONDONTWRITEBYTECODE=1", "-e", "OMP_NUM_THREADS=1",
        "-v", f"{repo}:/repo:ro", "-w", "/repo", image,
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"papers/{slug}",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - started, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("digest", nargs="?", default=str(ROOT / "examples" / "daily-papers-000.txt"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lit2code-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "LIT2CODE_RUNS_DIR": str(work / "runs"), "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "agent", "run", args.digest, "--repo", str(work / "repo"), "--run-id", "bench"]
        started = time.perf_counter()
        proc = subprocess.run([*cmd, "--sandbox", "docker"], env=env, capture_output=True, text=True)
        ours = time.perf_counter() - started
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        report = json.loads((work / "runs" / "bench" / "report.json").read_text())
        committed = [p for p in report["papers"] if p["status"] == "committed"]
        modes: dict[str, int] = {}
        for p in committed:
            for v in p["validations"]:
                modes[v["mode"]] = modes.get(v["mode"], 0) + 1
        image = image_tag(False)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            runs = list(pool.map(lambda p: naive(work / "repo", p["slug"], image), committed))
        baseline = time.perf_counter() - started
    failed = sum(code != 0 for _, code in runs)
    figures = {
        "digest": Path(args.digest).name,
        "papers": report["totals"]["papers"],
        "committed": len(committed),
        "validation_modes": modes,
        "lit2code_s": round(ours, 2),
        "naive_s": round(baseline, 2),
        "naive_failed": failed,
        "ratio": round(ours / baseline, 3),
        "target": TARGET,
        "stage_seconds": {
            stage: round(sum(p["timings"].get(stage, 0.0) for p in report["papers"]), 2)
            for stage in ("triage", "plan", "render", "validate", "commit")
        },
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{figures['digest']}: {figures['papers']} papers, {figures['committed']} committed "
            f"(validations: {', '.join(f'{k} {v}' for k, v in modes.items())})"
        )
        print(f"  lit2code run (whole pipeline): {ours:.1f} s")
        print(f"  naive docker run per module, {os.cpu_count()} at a time: {baseline:.1f} s ({failed} failed)")
        print(f"  ratio {figures['ratio']:.2f}x (target <= {TARGET}x)")
        print(f"  summed stage seconds: {figures['stage_seconds']}")
    return 0 if figures["ratio"] <= TARGET and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
