"""Docker vs process backend: the wall time of validating the same module, and the overhead per run.

    .venv/bin/python bench/bench_sandbox.py [--runs 7] [--json]

Both backends run the same pytest command over the same workspace (a small torch module and its tests)
and read back the same junit XML; runs alternate between backends so drift hits both alike. One warm-up
run each is not counted (first use builds the process runtime or finds the image). Target: docker
overhead under 0.8 s per validation on a 2-core machine.
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

from agent.registry import SANDBOXES  # noqa: E402
from agent.sandbox import get_sandbox  # noqa: E402

TARGET_OVERHEAD_S = 0.8

MODULE = '''
import torch
from torch import nn


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update B @ A, zero at init."""

    def __init__(self, d_in: int, d_out: int, rank: int = 4, alpha: float = 8.0) -> None:
        super().__init__()
        self.base = nn.Linear(d_in, d_out)
        self.base.requires_grad_(False)
        self.a = nn.Parameter(torch.randn(rank, d_in) / rank)
        self.b = nn.Parameter(torch.zeros(d_out, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.a.T @ self.b.T)

    def merged(self) -> nn.Linear:
        out = nn.Linear(self.base.in_features, self.base.out_features)
        out.weight.data = self.base.weight + self.scale * self.b @ self.a
        out.bias.data = self.base.bias.clone()
        return out
'''

TESTS = """
import torch
from lora import LoRALinear


def test_zero_init_is_identity():
    m = LoRALinear(16, 8)
    x = torch.randn(4, 16)
    assert torch.allclose(m(x), m.base(x))


def test_only_adapter_trains():
    m = LoRALinear(16, 8)
    m(torch.randn(4, 16)).sum().backward()
    assert m.base.weight.grad is None and m.a.grad is not None


def test_merge_matches_forward():
    m = LoRALinear(16, 8)
    torch.nn.init.normal_(m.b)
    x = torch.randn(4, 16)
    assert torch.allclose(m.merged()(x), m(x), atol=1e-5)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per backend (default 7)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    backends = {name: get_sandbox(name) for name in SANDBOXES}
    times: dict[str, list[float]] = {name: [] for name in backends}
    with tempfile.TemporaryDirectory(prefix="lit2code-bench-") as tmp:
        ws = Path(tmp)
        (ws / "lora.py").write_text(MODULE)
        (ws / "test_lora.py").write_text(TESTS)
        for i in range(args.runs + 1):
            for name, sb in backends.items():
                cmd = [sb.python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=junit.xml"]
                started = time.perf_counter()
                result, files = sb.exec(ws, cmd, timeout=120, memory="2g", collect=["junit.xml"])
                elapsed = time.perf_counter() - started
                if result.exit_code != 0 or b'failures="0"' not in files.get("junit.xml", b""):
                    print(f"{name} validation failed:\n{result.stdout}\n{result.stderr}", file=sys.stderr)
                    return 1
                if i:  # run 0 is the warm-up
                    times[name].append(elapsed)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    overhead = med["docker"] - med["process"]
    figures = {
        "runs": args.runs,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "ratio": round(med["docker"] / med["process"], 2),
        "overhead_s": round(overhead, 3),
        "target_overhead_s": TARGET_OVERHEAD_S,
        "within_target": overhead < TARGET_OVERHEAD_S,
        "all_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"median per validation over {args.runs} runs: docker {med['docker']:.3f} s, process {med['process']:.3f} s"
        )
        print(
            f"ratio docker/process: {figures['ratio']:.2f}x; docker overhead: {overhead:.3f} s per validation "
            f"(target < {TARGET_OVERHEAD_S} s: {'met' if figures['within_target'] else 'MISSED'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
