"""A response cache keyed by a hash of (model, messages, answer schema): a re-run asks the model nothing.

Only answers that passed validation are stored, so a bad answer is asked again next time. SQLite in
the user's cache folder, shared by runs; one short connection per operation keeps it thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    schema TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def cache_key(model: str, messages: list[dict[str, Any]], schema: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "schema": schema}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: caching disabled
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        return sqlite3.connect(self.path, timeout=30)

    def get(self, key: str) -> str | None:
        """The stored answer (its JSON text) for `key`, if any."""
        if self.path is None:
            return None
        with self._connect() as db:
            row = db.execute("SELECT content FROM answers WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, schema: str, content: str) -> None:
        if self.path is None:
            return
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO answers (key, model, schema, content) VALUES (?, ?, ?, ?)",
                (key, model, schema, content),
            )
