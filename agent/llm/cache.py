"""The model cache database: answers keyed by a hash of (model, messages, answer schema), and what each
(server, model) was found to support.

Only answers that passed validation are stored, so a bad answer is asked again next time. SQLite in
the user's cache folder, shared by runs; one short connection per operation keeps it thread-safe.

The schema is changed only by named migrations (as simonw/llm does): each is a function applied once,
in order, and its name recorded in the `_migrations` table. A database written before migrations
existed (an `answers` table and nothing else) is brought up to date in place, its answers kept.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; it runs once per database, in the order of registration."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_answers(db: sqlite3.Connection) -> None:
    # IF NOT EXISTS: databases from before migrations already have this table.
    db.execute(
        """CREATE TABLE IF NOT EXISTS answers (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            schema TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (datetime('now'))
        )"""
    )


@migration
def m002_capabilities(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE capabilities (
            server TEXT NOT NULL,
            model TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (server, model)
        )"""
    )


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database lacks; returns their names. Safe against concurrent openers."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.commit()
    applied: list[str] = []
    db.execute("BEGIN IMMEDIATE")  # one writer at a time: a second process waits, then sees them applied
    try:
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        for fn in MIGRATIONS:
            if fn.__name__ in done:
                continue
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (fn.__name__, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            applied.append(fn.__name__)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return applied


_migrated: set[Path] = set()
_migrate_lock = threading.Lock()


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the cache database at `path`, migrated (once per process and file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    key = path.resolve()
    if key not in _migrated:
        with _migrate_lock:
            if key not in _migrated:
                migrate(db)
                _migrated.add(key)
    return db


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A migrated connection that commits (or rolls back) and closes at the end of the block."""
    db = connect(path)
    try:
        with db:
            yield db
    finally:
        db.close()


def cache_key(model: str, messages: list[dict[str, Any]], schema: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "schema": schema}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: caching disabled
        if path is not None:
            connect(path).close()

    def get(self, key: str) -> str | None:
        """The stored answer (its JSON text) for `key`, if any."""
        if self.path is None:
            return None
        with transaction(self.path) as db:
            row = db.execute("SELECT content FROM answers WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, schema: str, content: str) -> None:
        if self.path is None:
            return
        with transaction(self.path) as db:
            db.execute(
                "INSERT OR REPLACE INTO answers (key, model, schema, content) VALUES (?, ?, ?, ?)",
                (key, model, schema, content),
            )


class CapabilityStore:
    """What a (server, model) supports, as JSON per pair; `path` None keeps it in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[tuple[str, str], dict[str, Any]] = {}
        if path is not None:
            connect(path).close()

    def get(self, server: str, model: str) -> dict[str, Any] | None:
        if self.path is None:
            return self._memory.get((server, model))
        with transaction(self.path) as db:
            row = db.execute("SELECT data FROM capabilities WHERE server = ? AND model = ?", (server, model)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, server: str, model: str, data: dict[str, Any]) -> None:
        if self.path is None:
            self._memory[(server, model)] = dict(data)
            return
        with transaction(self.path) as db:
            db.execute(
                "INSERT OR REPLACE INTO capabilities (server, model, data, updated_at) VALUES (?, ?, ?, ?)",
                (server, model, json.dumps(data, sort_keys=True), datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def forget(self, server: str, model: str) -> bool:
        if self.path is None:
            return self._memory.pop((server, model), None) is not None
        with transaction(self.path) as db:
            cur = db.execute("DELETE FROM capabilities WHERE server = ? AND model = ?", (server, model))
        return cur.rowcount > 0
