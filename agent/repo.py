"""The generated repository: skeleton, one commit per validated paper, README index, no duplicates.

A paper's commit is found again by its `Lit2code-Paper:` trailer, so committing is idempotent: a
resumed run (or a second run of the same digest) never commits the same paper twice.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import git
from jinja2 import Environment, FileSystemLoader

from agent.models import Plan, RenderedModule, Validation
from agent.settings import templates_dir

AUTHOR = "lit2code"
EMAIL = "lit2code@users.noreply.github.com"
TRAILER_PAPER = "Lit2code-Paper"
TRAILER_REVIEWED = "Lit2code-Reviewed-by"


class RepoError(RuntimeError):
    pass


def validation_note(plan: Plan, run_id: str, v: Validation) -> str:
    """The README's record of the validation that admitted this module."""
    t = v.tests
    edited = f"\nReviewer {plan.edited_by} edited this plan or its code; the record is of the edited code.\n"
    return (
        "## Validation record\n\n"
        f"lit2code run `{run_id}` ran `test_{plan.module_name}.py` in the `{v.backend}` sandbox on {v.device}: "
        f"{t.passed} passed, {t.failed} failed, {t.errors} errors, {t.skipped} skipped "
        f"({v.duration_s:.1f}s, attempt {v.attempt}). Skipped tests are the CUDA variants when no GPU was present.\n"
        + (edited if plan.edited_by else "")
    )


class GeneratedRepo:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self._lock = threading.Lock()
        self._index: dict[str, str] | None = None

    # -- setup ---------------------------------------------------------------------------------
    def ensure(self) -> git.Repo:
        """Open the repo, creating it with the skeleton from templates/repo/ when missing."""
        if (self.path / ".git").exists():
            return git.Repo(self.path)
        if self.path.exists() and any(self.path.iterdir()):
            raise RepoError(f"{self.path} exists, is not empty and is not a git repository; pass another --repo")
        self.path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.path, initial_branch="main")
        skeleton = templates_dir() / "repo"
        for src in sorted(p for p in skeleton.rglob("*") if p.is_file()):
            rel = src.relative_to(skeleton)
            if rel.name == "README.md.j2":
                continue
            dest = self.path / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
        self._write_index()
        self._git(repo, "add", "-A")
        self._git(repo, "commit", "-q", "-m", "Initialise lit2code generated repository")
        return repo

    def _git(self, repo: git.Repo, *args: str) -> str:
        return repo.git.execute(
            [
                "git",
                "-c",
                f"user.name={AUTHOR}",
                "-c",
                f"user.email={EMAIL}",
                "-c",
                "commit.gpgsign=false",
                *args,
            ]
        )

    @contextmanager
    def _locked(self) -> Iterator[git.Repo]:
        """One writer at a time: a thread lock within the process, an flock across processes."""
        with self._lock:
            repo = self.ensure()
            with open(self.path / ".git" / "lit2code.lock", "w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                # Holding the flock, any index.lock is the leftover of a killed run, never a live git.
                stale = self.path / ".git" / "index.lock"
                if stale.exists():
                    stale.unlink()
                yield repo

    # -- queries -------------------------------------------------------------------------------
    def committed(self, refresh: bool = False) -> dict[str, str]:
        """paper id -> commit sha, from the trailers of every commit on HEAD."""
        if self._index is not None and not refresh:
            return self._index
        index: dict[str, str] = {}
        if (self.path / ".git").exists():
            repo = git.Repo(self.path)
            if repo.head.is_valid():
                out = repo.git.log(f"--format=%H%x00%(trailers:key={TRAILER_PAPER},valueonly,separator=%x01)%x1e")
                for record in out.split("\x1e"):
                    sha, _, ids = record.strip().partition("\x00")
                    for pid in filter(None, (i.strip() for i in ids.split("\x01"))):
                        index.setdefault(pid, sha)
        self._index = index
        return index

    def find(self, paper_id: str) -> str | None:
        return self.committed().get(paper_id)

    def plans(self) -> Iterator[tuple[str, Plan]]:
        """(slug, plan) of every paper package, from its plan.json."""
        for plan_file in sorted((self.path / "papers").glob("*/plan.json")):
            try:
                plan = Plan.model_validate(json.loads(plan_file.read_text()))
            except (ValueError, OSError):
                continue  # a hand-edited or foreign folder: not ours
            yield plan_file.parent.name, plan

    def plan_of(self, paper_id: str) -> Plan | None:
        """The committed plan.json of a paper (its family, names and provenance), if any."""
        return next((plan for _, plan in self.plans() if plan.paper_id == paper_id), None)

    # -- writing -------------------------------------------------------------------------------
    def commit_paper(
        self,
        rendered: RenderedModule,
        plan: Plan,
        run_id: str,
        validation: Validation,
        reviewed_by: Sequence[str] = (),
    ) -> str:
        """Commit one paper's package; returns the sha (an existing one if already committed).
        `reviewed_by`: one `Lit2code-Reviewed-by:` trailer each (who reviewed it, and what they decided)."""
        with self._locked() as repo:
            existing = self.committed(refresh=True).get(plan.paper_id)
            if existing:
                return existing
            pkg = self.path / "papers" / rendered.slug
            pkg.mkdir(parents=True, exist_ok=True)
            for name, content in rendered.files.items():
                if name == "README.md":
                    content = content.rstrip("\n") + "\n\n" + validation_note(plan, run_id, validation)
                (pkg / name).write_text(content)
            self._write_index()
            self._git(repo, "add", "-A", "--", "papers", "README.md")
            t = validation.tests
            message = (
                f"Add {plan.method_name} ({plan.family}) for {plan.paper_id}\n\n"
                f"{plan.paper_title}\n\n"
                f"{TRAILER_PAPER}: {plan.paper_id}\n"
                f"Lit2code-Run: {run_id}\n"
                f"Lit2code-Validation: {t.passed} passed ({validation.backend}, {validation.device}, "
                f"{validation.duration_s:.1f}s)\n" + "".join(f"{TRAILER_REVIEWED}: {who}\n" for who in reviewed_by)
            )
            self._git(repo, "commit", "-q", "-m", message)
            sha = repo.head.commit.hexsha
            self.committed(refresh=True)
            return sha

    def _write_index(self) -> None:
        rows = []
        for slug, plan in self.plans():
            rows.append(
                {
                    "title": plan.paper_title or plan.method_name,
                    "url": plan.paper_url,
                    "paper_id": plan.paper_id,
                    "family": plan.family,
                    "slug": slug,
                    "module": plan.module_name,
                    "method": plan.method_name,
                    "planner": plan.planner,
                }
            )
        rows.sort(key=lambda r: r["paper_id"] or "")
        env = Environment(
            loader=FileSystemLoader(str(templates_dir() / "repo")),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        (self.path / "README.md").write_text(env.get_template("README.md.j2").render(rows=rows))
