"""The whole pipeline through the docker backend commits exactly what the process backend commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, docker_or_skip, make_cli
from tests.test_pipeline import committed_ids

DIGEST = EXAMPLES / "daily-papers-000.txt"


@pytest.mark.docker
@pytest.mark.slow
def test_docker_and_process_backends_commit_the_same_papers(tmp_path: Path, runtime_python: str) -> None:
    docker_or_skip()
    cli = make_cli(tmp_path)
    cli.run("run", str(DIGEST), "--repo", "repo-process", "--run-id", "proc", "--sandbox", "process")
    cli.run("run", str(DIGEST), "--repo", "repo-docker", "--run-id", "dock", "--sandbox", "docker")
    proc, dock = cli.report("proc"), cli.report("dock")
    assert proc["sandbox"] == "process" and dock["sandbox"] == "docker"
    committed = {p["paper_id"] for p in proc["papers"] if p["status"] == "committed"}
    assert committed, "the process run committed nothing: nothing to compare"
    assert {p["paper_id"] for p in dock["papers"] if p["status"] == "committed"} == committed
    assert sorted(committed_ids(tmp_path / "repo-docker")) == sorted(committed)
    # Every docker validation really ran in a container.
    assert all(v["backend"] == "docker" for p in dock["papers"] for v in p["validations"])
    assert dock["totals"]["failed"] == proc["totals"]["failed"] == 0
