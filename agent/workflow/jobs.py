"""The durable job queue of GitHub-triggered runs: SQLite beside the runs (RUNS_DIR/jobs.sqlite).

A job is written before the webhook is answered, so nothing acknowledged is lost. Deliveries are
deduplicated twice: by `X-GitHub-Delivery` (a redelivery) and by a logical key (the same push seen
through two registrations, the same comment twice): either gives back the job already there. A worker
claims the oldest queued job whose repository has no running job (one at a time per repository); on
start, jobs a crash left `running` go back to the queue, and their runs resume from their checkpoints.

The schema grows by named migrations (simonw/llm's way): each is applied once, in order, and recorded
in `_migrations`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_jobs_and_deliveries",
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            repo TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            state TEXT NOT NULL DEFAULT '{}',
            result TEXT,
            error TEXT
        );
        CREATE INDEX jobs_status ON jobs (status, id);
        CREATE TABLE deliveries (
            delivery_id TEXT PRIMARY KEY,
            job_id INTEGER REFERENCES jobs (id),
            event TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        """,
    ),
    (
        "002_branches",
        """
        CREATE TABLE branches (
            repo TEXT NOT NULL,
            branch TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (repo, branch)
        );
        """,
    ),
    (
        # `status` and `cancel` must not wait behind the run they are about: a lane of their own.
        "003_job_lanes",
        "ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'run';",
    ),
    (
        # A pull request has one status comment, edited by every job that works on its branch.
        "004_status_comments",
        """
        CREATE TABLE status_comments (
            repo TEXT NOT NULL,
            number INTEGER NOT NULL,
            comment_id INTEGER NOT NULL,
            PRIMARY KEY (repo, number)
        );
        """,
    ),
]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Job(BaseModel):
    id: int
    key: str
    repo: str
    kind: str
    payload: dict[str, Any]
    status: JobStatus
    lane: Literal["run", "quick"] = "run"
    attempts: int = 0
    cancel_requested: bool = False
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    state: dict[str, Any] = Field(default_factory=dict, description="what the job made: comment, check run, PR")
    result: dict[str, Any] | None = None
    error: str | None = None


class JobQueue:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    db.executescript(f"BEGIN; {sql} INSERT INTO _migrations VALUES ('{name}', '{_now()}'); COMMIT;")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        try:
            yield db
        finally:
            db.close()

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        data = dict(row)
        for field in ("payload", "state", "result"):
            if data.get(field) is not None:
                data[field] = json.loads(data[field])
        data["cancel_requested"] = bool(data["cancel_requested"])
        return Job.model_validate(data)

    def migrations(self) -> list[str]:
        with self._db() as db:
            return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY name")]

    # -- in --------------------------------------------------------------------------------------
    def enqueue(
        self,
        delivery_id: str,
        event: str,
        key: str,
        repo: str,
        kind: str,
        payload: dict[str, Any],
        lane: str = "run",
    ) -> tuple[Job, bool]:
        """The job for this delivery: (job, True) when new; (the existing job, False) for a redelivery or
        a delivery of the same logical event."""
        with self._lock, self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                seen = db.execute("SELECT job_id FROM deliveries WHERE delivery_id = ?", (delivery_id,)).fetchone()
                if seen is not None and seen[0] is not None:
                    db.execute("COMMIT")
                    return self.get(seen[0]), False
                row = db.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
                created = row is None
                if created:
                    cur = db.execute(
                        "INSERT INTO jobs (key, repo, kind, payload, created_at, lane) VALUES (?, ?, ?, ?, ?, ?)",
                        (key, repo, kind, json.dumps(payload), _now(), lane),
                    )
                    job_id = cur.lastrowid
                else:
                    job_id = row["id"]
                db.execute(
                    "INSERT OR REPLACE INTO deliveries (delivery_id, job_id, event, received_at) VALUES (?, ?, ?, ?)",
                    (delivery_id, job_id, event, _now()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        assert job_id is not None
        return self.get(job_id), created

    def note_delivery(self, delivery_id: str, event: str) -> bool:
        """Record a delivery that made no job (ignored); False when it was seen before."""
        with self._lock, self._db() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO deliveries (delivery_id, job_id, event, received_at) VALUES (?, NULL, ?, ?)",
                (delivery_id, event, _now()),
            )
            return cur.rowcount == 1

    # -- out -------------------------------------------------------------------------------------
    def claim(self) -> Job | None:
        """The oldest queued job, now running: a quick one (status, cancel) at once, a run only while its
        repository has no other run going; None when there is none."""
        with self._lock, self._db() as db:
            row = db.execute(
                """
                UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1
                WHERE id = (
                    SELECT id FROM jobs WHERE status = 'queued' AND (
                        lane = 'quick'
                        OR repo NOT IN (SELECT repo FROM jobs WHERE status = 'running' AND lane = 'run')
                    )
                    ORDER BY lane = 'run', id LIMIT 1
                )
                RETURNING *
                """,
                (_now(),),
            ).fetchone()
        return self._job(row) if row else None

    def finish(
        self, job_id: int, status: JobStatus, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        with self._lock, self._db() as db:
            db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, result = ?, error = ? WHERE id = ?",
                (status, _now(), json.dumps(result) if result is not None else None, error, job_id),
            )

    def save_state(self, job_id: int, **items: Any) -> None:
        """Remember what the job made (its comment, check run, pull request), so a retry updates them."""
        with self._lock, self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            state = {**json.loads(row[0]), **items}
            db.execute("UPDATE jobs SET state = ? WHERE id = ?", (json.dumps(state), job_id))
            db.execute("COMMIT")

    def recover(self) -> list[int]:
        """Jobs a crash or a restart left running go back to the queue; returns their ids."""
        with self._lock, self._db() as db:
            rows = db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running' RETURNING id").fetchall()
        return sorted(r[0] for r in rows)

    def cancel(self, repo: str, where: str | None = None) -> list[int]:
        """Cancel the repository's queued jobs (those of one issue or PR when `where` is given) at once, and
        ask its running ones to stop; returns the ids."""
        jobs = [j for j in self.list(repo=repo) if j.status in ("queued", "running")]
        if where is not None:
            jobs = [j for j in jobs if j.payload.get("where") == where]
        with self._lock, self._db() as db:
            for job in jobs:
                if job.status == "queued":
                    db.execute(
                        "UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'",
                        (_now(), job.id),
                    )
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job.id,))
        return [j.id for j in jobs]

    def cancel_requested(self, job_id: int) -> bool:
        with self._db() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    # -- reading ---------------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return self._job(row)

    def list(self, repo: str | None = None, limit: int = 200) -> list[Job]:
        with self._db() as db:
            if repo is None:
                rows = db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM jobs WHERE repo = ? ORDER BY id DESC LIMIT ?", (repo, limit)
                ).fetchall()
        return [self._job(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._db() as db:
            return {row[0]: row[1] for row in db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")}

    def deliveries(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

    # -- pull requests ---------------------------------------------------------------------------
    def status_comment(self, repo: str, number: int) -> int | None:
        with self._db() as db:
            row = db.execute(
                "SELECT comment_id FROM status_comments WHERE repo = ? AND number = ?", (repo, number)
            ).fetchone()
        return int(row[0]) if row else None

    def save_status_comment(self, repo: str, number: int, comment_id: int) -> None:
        with self._lock, self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO status_comments (repo, number, comment_id) VALUES (?, ?, ?)",
                (repo, number, comment_id),
            )

    # -- branches --------------------------------------------------------------------------------
    def branch_state(self, repo: str, branch: str) -> dict[str, Any]:
        with self._db() as db:
            row = db.execute("SELECT state FROM branches WHERE repo = ? AND branch = ?", (repo, branch)).fetchone()
        return json.loads(row[0]) if row else {}

    def save_branch_state(self, repo: str, branch: str, state: dict[str, Any]) -> None:
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO branches (repo, branch, state) VALUES (?, ?, ?) "
                "ON CONFLICT (repo, branch) DO UPDATE SET state = excluded.state",
                (repo, branch, json.dumps(state)),
            )
