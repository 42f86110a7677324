"""`python -m tests.fake_github --port N --state DIR [--seed FILE]`: serve a fake GitHub until interrupted.

Prints one JSON line when ready: {"url": ..., "api_url": ..., "state": ...} plus, with --seed, what the seed made.
A seed file is a JSON list of control calls, e.g. [["add_user", ["alice"], {}], ["create_repo", ["alice/x"], {}]];
their results are printed in order under "seed".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .server import FakeGitHub, serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_github", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", required=True, type=Path, help="folder for the bare repositories")
    parser.add_argument("--seed", type=Path, help="a JSON list of [method, args, kwargs] control calls to run first")
    args = parser.parse_args(argv)

    def ready(fake: FakeGitHub) -> None:
        info: dict[str, object] = {"url": fake.url, "api_url": fake.api_url, "state": str(fake.state_dir)}
        if args.seed:
            results = []
            for name, call_args, kwargs in json.loads(args.seed.read_text()):
                if name not in FakeGitHub.CONTROL_METHODS:
                    raise SystemExit(f"{args.seed}: unknown control method {name}")
                results.append(getattr(fake, name)(*call_args, **kwargs))
            info["seed"] = results
        print(json.dumps(info), flush=True)

    serve_forever(args.state, args.host, args.port, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
