"""`lit2code serve` and `lit2code github action | init-workflow`: GitHub-triggered runs.

Both run the same event handling (agent.github.events -> agent.workflow.jobs -> agent.workflow.github_jobs):
the server behind a verified webhook with a durable queue and workers, the action inside one GitHub
Actions job for the event that started it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import app, err, fail, load_settings
from agent.github import events
from agent.github.client import RedactingFilter
from agent.settings import Settings

github_app = typer.Typer(help="GitHub-triggered runs: the Actions mode and its workflow file.", no_args_is_help=True)
app.add_typer(github_app, name="github")
log = logging.getLogger("lit2code")

WORKFLOW = Path(".github/workflows/lit2code.yml")
# Actions pinned to full commit ids (a tag can be moved; a commit cannot).
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"  # v4.2.2
SETUP_PYTHON = "actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b"  # v5.3.0


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())  # no token or key in any log line, whoever logs it
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per GitHub request is noise


def _credentials(env: Settings) -> None:
    if not ((env.github_app_id and env.app_private_key()) or env.github_token):
        raise fail(
            "no GitHub credentials: set LIT2CODE_GITHUB_APP_ID and LIT2CODE_GITHUB_PRIVATE_KEY (or _FILE) for a "
            "GitHub App, or LIT2CODE_GITHUB_TOKEN for a fine-grained personal access token (README: GitHub)"
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="the address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="the port to listen on")] = 8000,
    workers: Annotated[int | None, typer.Option(help="jobs at once (default: LIT2CODE_GITHUB_WORKERS, 2)")] = None,
) -> None:
    """Serve GitHub webhooks (POST /github/webhook), /healthz and a JSON API over runs (/runs, /runs/ID)."""
    import uvicorn

    from agent.server.app import create_app
    from agent.server.worker import Workers
    from agent.workflow.github_jobs import announce
    from agent.workflow.jobs import Job, JobQueue

    env = load_settings()
    if env.github_webhook_secret is None or not env.github_webhook_secret.get_secret_value():
        raise fail(
            "lit2code serve refuses to start without LIT2CODE_GITHUB_WEBHOOK_SECRET: set it to the secret of the "
            "GitHub App's (or the repository's) webhook, so that only GitHub's deliveries are believed"
        )
    _credentials(env)
    _logging()
    queue = JobQueue(env.runs_dir / "jobs.sqlite")
    again = queue.recover()
    pool = Workers(queue, env, workers or env.github_workers)

    def on_queued(job: Job) -> None:
        pool.wake()
        announce(job, queue, env)

    server_app = create_app(env, queue, on_queued)
    pool.start()
    log.info(
        "listening on http://%s:%s/github/webhook; %s worker(s); queue %s%s",
        host, port, pool.count, queue.path, f"; job(s) {again} taken up again" if again else "",
    )  # fmt: skip
    try:
        uvicorn.run(server_app, host=host, port=port, log_config=None, access_log=True)
    finally:
        pool.stop()


@github_app.command()
def action() -> None:
    """Handle the event of the GitHub Actions job this runs in (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH)."""
    from agent.server.worker import Workers
    from agent.workflow.jobs import JobQueue

    name, path = os.environ.get("GITHUB_EVENT_NAME"), os.environ.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise fail(
            "lit2code github action runs in a GitHub Actions job: GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are unset"
        )
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"{path}: cannot read the event ({exc})") from exc
    env = load_settings()
    _credentials(env)
    _logging()
    decision = events.accept(name, payload, env.allowed_repos())
    if isinstance(decision, events.Ignored):
        err.print(f"nothing to do: {decision.reason}")
        return
    queue = JobQueue(env.runs_dir / "jobs.sqlite")
    delivery = f"actions-{os.environ.get('GITHUB_RUN_ID', 'local')}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    job, _ = queue.enqueue(delivery, name, decision.key, decision.repo, decision.kind, decision.payload, decision.lane)
    claimed = queue.claim()
    if claimed is None or claimed.id != job.id:
        finished = queue.get(job.id)
        err.print(f"job {job.id} is {finished.status} already")
        raise typer.Exit(0 if finished.status == "done" else 1)
    Workers(queue, env, 1).run(claimed)
    done = queue.get(job.id)
    err.print(f"job {done.id}: {done.status}" + (f": {done.error}" if done.error else ""))
    raise typer.Exit(0 if done.status == "done" else 1)


def workflow_text(digests: str, install: str) -> str:
    return f"""# lit2code: a run per pushed digest or `/lit2code` comment (lit2code github init-workflow wrote this).
name: lit2code
on:
  push:
    branches: [main]
    paths: ["{digests}", ".lit2code.toml"]
  issue_comment:
    types: [created]
# The job's own GITHUB_TOKEN only reads: lit2code writes with an App's installation token or a
# fine-grained token (pushes made with GITHUB_TOKEN would start no CI in the generated repository).
permissions:
  contents: read
# One run per digest push or per issue at a time; a new event waits for the running one, never cancels it.
concurrency:
  group: lit2code-${{{{ github.event.issue.number || github.ref }}}}
  cancel-in-progress: false
jobs:
  lit2code:
    if: github.event_name == 'push' || startsWith(github.event.comment.body, '/lit2code')
    runs-on: ubuntu-latest
    timeout-minutes: 180
    steps:
      - uses: {CHECKOUT}
      - uses: {SETUP_PYTHON}
        with:
          python-version: "3.11"
      - run: pip install {install}
      # The sandbox image: built here without any registry (mmdebstrap), or `lit2code sandbox build` to pull the base.
      - run: sudo apt-get install -y mmdebstrap && sudo -E "$(which lit2code)" sandbox build --offline
      - run: lit2code github action
        env:
          LIT2CODE_GITHUB_APP_ID: ${{{{ vars.LIT2CODE_GITHUB_APP_ID }}}}
          LIT2CODE_GITHUB_PRIVATE_KEY: ${{{{ secrets.LIT2CODE_GITHUB_PRIVATE_KEY }}}}
          LIT2CODE_GITHUB_TOKEN: ${{{{ secrets.LIT2CODE_GITHUB_TOKEN }}}}
          LIT2CODE_GITHUB_API_URL: ${{{{ github.api_url }}}}
          OPENAI_API_KEY: ${{{{ secrets.OPENAI_API_KEY }}}}
"""


@github_app.command("init-workflow")
def init_workflow(
    repo_dir: Annotated[Path, typer.Argument(help="the digest repository's checkout")] = Path("."),
    digests: Annotated[str, typer.Option(help="the digest paths (a glob, as in .lit2code.toml)")] = "digests/**",
    install: Annotated[str, typer.Option(help="what `pip install` gets lit2code from")] = "lit2code",
    force: Annotated[bool, typer.Option(help="overwrite an existing workflow file")] = False,
) -> None:
    """Write .github/workflows/lit2code.yml into a repository: push to digest paths and /lit2code comments."""
    target = repo_dir / WORKFLOW
    if target.exists() and not force:
        raise fail(f"{target} exists; pass --force to overwrite it")
    if not repo_dir.is_dir():
        raise fail(f"{repo_dir}: no such directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(workflow_text(digests, install))
    err.print(f"wrote {target}; set the secrets it names (see the README's GitHub section), then commit it")
