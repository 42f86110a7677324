"""One module validated three ways in the Docker sandbox: a cold container, a pooled (single-use, started
ahead) warm container, and a reused warm worker. Prints p50 and p95 of each and the ratios to cold.

    .venv/bin/python bench/bench_validation.py [--runs 9] [--family mixture-of-experts] [--json]

The module is a family template rendered as the offline planner renders a paper's (every option on), so
its tests are what a real validation runs. Pooled runs wait, untimed, for the pool to be refilled between
runs, as validations of model-written code are spaced by model calls in a real run. Target: warm p50 at
most 0.3x the cold p50.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.families import load_families  # noqa: E402
from agent.render import render  # noqa: E402
from agent.sandbox.docker_backend import DockerSandbox  # noqa: E402
from agent.validate import JUNIT, pytest_args, write_workspace  # noqa: E402
from agent.workflow.templates_check import sample_plan  # noqa: E402

TARGET = 0.3


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--family", default="mixture-of-experts")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    family = load_families()[args.family]
    plan, paper = sample_plan(family, sorted(family.options))
    rendered = render(plan, paper, family)
    sandbox = DockerSandbox()
    sandbox.prepare()
    times: dict[str, list[float]] = {"cold": [], "pooled": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="lit2code-bench-") as tmp:
        ws = Path(tmp)
        write_workspace(rendered, ws)
        pytest = pytest_args(f"papers/{rendered.slug}")
        sandbox.warm_up(trusted=True, untrusted=True)
        for i in range(args.runs + 1):  # run 0 warms each path up and is not counted
            for mode in ("cold", "pooled", "warm"):
                if mode == "pooled":
                    pool = sandbox._pool(False, "4g")
                    while not pool._idle:  # the refill a real run gets between model calls
                        time.sleep(0.2)
                started = time.perf_counter()
                if mode == "cold":
                    result, files = sandbox.exec(ws, [sandbox.python(), "-m", "pytest", *pytest], collect=[JUNIT])
                else:
                    result, files = sandbox.run_pytest(ws, pytest, trusted=mode == "warm", collect=[JUNIT])
                elapsed = time.perf_counter() - started
                if result.exit_code != 0 or result.mode != mode:
                    print(f"{mode} run failed ({result.mode}, {result.mode_note}):\n{result.stdout[-2000:]}")
                    return 1
                if i:
                    times[mode].append(elapsed)
    sandbox.close()
    figures = {
        mode: {"p50_s": round(statistics.median(t), 3), "p95_s": round(pct(t, 0.95), 3), "runs": len(t)}
        for mode, t in times.items()
    }
    cold = figures["cold"]["p50_s"]
    figures["ratios"] = {m: round(figures[m]["p50_s"] / cold, 3) for m in ("pooled", "warm")}
    figures["target_warm_ratio"] = TARGET
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"module: {args.family} (every option), {args.runs} runs each, docker sandbox")
        for mode in ("cold", "pooled", "warm"):
            f = figures[mode]
            print(f"  {mode:7} p50 {f['p50_s']:.3f} s  p95 {f['p95_s']:.3f} s")
        r = figures["ratios"]
        print(f"  warm/cold {r['warm']:.2f}x (target <= {TARGET}x), pooled/cold {r['pooled']:.2f}x")
    return 0 if figures["ratios"]["warm"] <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
