"""`python -m tests.crash_at_checkpoint STEP ARGS...`: the real `lit2code` CLI, except that the process dies
(os._exit, as hard as a SIGKILL: no cleanup, no flush) just before the run thread's checkpoint of STEP
is saved. The step's writes are in the file by then, its checkpoint is not: the one crash window a
kill at a random moment rarely hits, here every time."""

from __future__ import annotations

import os
import sys

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

CRASH_EXIT = 9


def main() -> None:
    step, args = int(sys.argv[1]), sys.argv[2:]
    save = AsyncSqliteSaver.aput

    async def aput(self, config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        if metadata.get("step") == step and not config["configurable"].get("checkpoint_ns"):
            os._exit(CRASH_EXIT)
        return await save(self, config, checkpoint, metadata, new_versions)

    AsyncSqliteSaver.aput = aput  # type: ignore[method-assign]
    from agent.cli import app

    sys.argv = ["lit2code", *args]
    app()


if __name__ == "__main__":
    main()
