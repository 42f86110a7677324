"""The run's checkpointer: AsyncSqliteSaver at runs/RUN_ID/checkpoints.sqlite, strict about types.

Checkpoints hold our pydantic models; the serializer is told exactly which ones may be revived, so
a tampered checkpoint file cannot make the loader instantiate anything else.
"""

from __future__ import annotations

import inspect
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import BaseModel

from agent import models


def serializer() -> JsonPlusSerializer:
    allowed = [
        (obj.__module__, obj.__name__)
        for _, obj in inspect.getmembers(models, inspect.isclass)
        if issubclass(obj, BaseModel) and obj.__module__ == models.__name__
    ]
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)


@asynccontextmanager
async def open_checkpointer(run_dir: Path):
    async with AsyncSqliteSaver.from_conn_string(str(run_dir / "checkpoints.sqlite")) as saver:
        saver.serde = serializer()
        yield saver
