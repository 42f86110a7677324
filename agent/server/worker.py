"""The workers behind `lit2code serve`: N threads that take jobs from the durable queue (one job per
repository at a time) and run them; a job that raises is marked failed and told to GitHub, never lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent.github.client import redact
from agent.settings import Settings
from agent.workflow.github_jobs import JobCancelled, fail_job, run_job
from agent.workflow.jobs import Job, JobQueue

log = logging.getLogger("lit2code.worker")
POLL_S = 1.0


class Workers:
    def __init__(self, queue: JobQueue, env: Settings, count: int, runner: Callable[..., dict] = run_job) -> None:
        self.queue, self.env, self.count, self.runner = queue, env, count, runner
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.count):
            thread = threading.Thread(target=self._loop, daemon=True, name=f"lit2code-worker-{i}")
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(wait)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.queue.claim()
            if job is None:
                self._wake.wait(POLL_S)
                self._wake.clear()
                continue
            self._wake.set()  # another job may be waiting for another worker
            self.run(job)

    def run(self, job: Job) -> None:
        log.info("job %s (%s %s) started, attempt %s", job.id, job.kind, job.repo, job.attempts)
        try:
            result = self.runner(job, self.queue, self.env)
        except JobCancelled as exc:
            self.queue.finish(job.id, "cancelled", error=str(exc))
            log.info("job %s cancelled", job.id)
        except Exception as exc:  # noqa: BLE001 - one job's failure is that job's, reported and recorded
            error = redact(f"{type(exc).__name__}: {exc}")
            log.exception("job %s failed: %s", job.id, error)
            self.queue.finish(job.id, "failed", error=error)
            fail_job(job, self.queue, self.env, error)
        else:
            self.queue.finish(job.id, "done", result=result)
            log.info("job %s done", job.id)
