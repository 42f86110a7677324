"""GitHub-triggered runs end to end: the real `lit2code serve` in a subprocess, a fake GitHub on loopback that
speaks the real protocol (REST through githubkit, git smart-HTTP through `git http-backend`), deliveries
signed with the standard library's hmac and sent over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.github import commands, config, events
from tests.conftest import ROOT
from tests.fake_github import build_delivery, redeliver, send
from tests.fake_github.webhooks import asend
from tests.github_harness import MINI, Server, World, committed_on, make_world, report

SECOND = "\n".join(MINI.splitlines()[:3]) + "\n"  # another digest: three of the mini digest's papers
THIRD = "\n".join(MINI.splitlines()[3:]) + "\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, runtime_python: str) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("github"))
    yield w
    w.gh.stop()


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[Server]:
    s = Server(world)
    # The fake sends GitHub's own deliveries back: for lit2code's comments and for its pushes.
    world.gh.configure_webhook(s.hook, world.secret, installation_id=world.installation)
    yield s
    s.stop()


def _pr(world: World, branch_prefix: str) -> dict:
    found = [p for p in world.gh.pulls("acme/papers-impl") if p["head"]["ref"].startswith(branch_prefix)]
    assert len(found) == 1, [p["head"]["ref"] for p in world.gh.pulls("acme/papers-impl")]
    return found[0]


# -- the triggers, read without GitHub ------------------------------------------------------------------
def test_commands_parse_and_refuse_what_they_cannot_read() -> None:
    assert commands.parse("/lit2code run digests/a.txt planner=llm max-cost=1").model_dump() == {
        "kind": "run", "path": "digests/a.txt", "options": {"planner": "llm", "max_cost": "1"}, "paper_id": None,
        "text": "",
    }  # fmt: skip
    assert commands.parse("/lit2code reject 2406.01234 not novel").text == "not novel"
    assert commands.parse("/lit2code feedback p-1 rank=16 option rank_gate on").text == "rank=16 option rank_gate on"
    for bad, says in [
        ("/lit2code", "say what to do"),
        ("/lit2code run", "needs the digest's path"),
        ("/lit2code run ../secrets.txt", "not a path inside the repository"),
        ("/lit2code run /etc/passwd", "not a path inside the repository"),
        ("/lit2code run d.txt planner", "options are key=value"),
        ("/lit2code feedback p-1", "needs the feedback text"),
        ("/lit2code dance", "unknown command"),
        ('/lit2code run "unclosed', "cannot read the command"),
    ]:
        with pytest.raises(commands.CommandError, match=says):
            commands.parse(bad)
    assert commands.find("thanks!\n/lit2code status\nmore") == "/lit2code status"
    assert commands.find("/lit2codes run x") is None


def test_repository_config_and_run_options() -> None:
    conf = config.parse('digests = ["papers/*.txt"]\ntarget = "acme/x"\n[run]\nplanner = "llm"\n')
    assert conf.is_digest("papers/a.txt") and not conf.is_digest("digests/a.txt")
    assert config.run_options(conf, {"max_cost": "2"}) == {"planner": "llm", "max_cost": "2"}
    assert config.parse(None).is_digest("digests/2026/12/01.txt")
    for text, says in [
        ("target = 'not a repo'", "owner/name"),
        ("[run]\nrepo = '/tmp'", "unknown run option"),
        ("digests = [", ".lit2code.toml"),
    ]:
        with pytest.raises(config.ConfigError, match=says):
            config.parse(text)
    with pytest.raises(config.ConfigError, match="max_repairs"):
        config.run_options(config.parse(None), {"max_repairs": "-3"})


def test_which_events_start_work() -> None:
    repo = {"full_name": "acme/digests", "default_branch": "main"}
    push = {"ref": "refs/heads/main", "after": "a" * 40, "repository": repo, "commits": [{"added": ["digests/x.txt"]}]}
    assert isinstance(events.accept("push", push, set()), events.Accepted)
    assert "not in lit2code's allow-list" in events.accept("push", push, {"acme/other"}).reason  # type: ignore[union-attr]
    assert "not to the default branch" in events.accept("push", {**push, "ref": "refs/heads/dev"}, set()).reason  # type: ignore[union-attr]
    assert events.accept("push", {**push, "after": events.ZERO}, set()).reason == "a branch deletion"  # type: ignore[union-attr]
    comment = {
        "action": "created", "issue": {"number": 1}, "repository": repo,
        "comment": {"id": 7, "body": "/lit2code status", "user": {"login": "alice"}}, "sender": {"login": "alice"},
    }  # fmt: skip
    assert isinstance(events.accept("issue_comment", comment, set()), events.Accepted)
    bot = {**comment, "sender": {"login": "lit2code[bot]", "type": "Bot"}}
    assert "bot" in events.accept("issue_comment", bot, set()).reason  # type: ignore[union-attr]
    ours = {**comment, "comment": {**comment["comment"], "body": f"{events.MARK}\n/lit2code run x"}}
    assert events.accept("issue_comment", ours, set()).reason == "lit2code's own comment"  # type: ignore[union-attr]
    assert "only new comments" in events.accept("issue_comment", {**comment, "action": "edited"}, set()).reason  # type: ignore[union-attr]
    assert "does not act on" in events.accept("issues", {"repository": repo}, set()).reason  # type: ignore[union-attr]


# -- the server -------------------------------------------------------------------------------------------
def test_a_pushed_digest_becomes_one_draft_pull_request(world: World, server: Server) -> None:
    sha, payload = world.push({"digests/2026-12-01.jsonl": MINI})
    started = time.monotonic()
    answer = server.deliver("push", payload)
    assert answer.status_code == 202 and time.monotonic() - started < 5, answer.text
    job = server.wait(answer.json()["job"])
    assert job["status"] == "done", job["error"]
    (result,) = job["result"]["digests"]
    pr = _pr(world, "lit2code/2026-12-01-")
    assert pr["draft"] is True and pr["base"]["ref"] == "main" and pr["number"] == result["pr"]
    assert "4 committed, 2 skipped" in pr["body"] and "| committed | distillation |" in pr["body"]
    rep = report(world, result["run_id"])
    committed = sorted(p["paper_id"] for p in rep["papers"] if p["status"] == "committed")
    assert sorted(committed_on(world, pr["head"]["ref"])) == committed and len(committed) == 4
    checks = world.gh.check_runs("acme/digests", sha)
    assert [(c["status"], c["conclusion"]) for c in checks] == [("completed", "success")]
    statuses = [r["json"]["status"] for r in world.gh.requests("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}")]
    assert statuses[0] == "in_progress" and statuses[-1] == "completed"  # queued -> in_progress -> completed
    mine = [c for c in world.gh.comments_on("acme/papers-impl", pr["number"]) if c["user"]["login"] == "lit2code[bot]"]
    assert len(mine) == 1 and "done: 6 papers: 4 committed, 2 skipped" in mine[0]["body"]
    # The status comment came back as a delivery (the fake sends GitHub's events): no job came of it.
    back = [d for d in world.gh.deliveries() if d["event"] == "issue_comment"]
    assert back and all(d["status"] == 200 and "ignored" in d["response"] for d in back)
    # The same digest pushed again (another commit touching it): the same branch, no new commit, no second PR.
    before = world.gh.resolve_ref("acme/papers-impl", pr["head"]["ref"])
    _, again = world.push({"digests/2026-12-01.jsonl": MINI, "README.md": "# digests, again\n"})
    assert server.wait(server.deliver("push", again).json()["job"])["status"] == "done"
    assert world.gh.resolve_ref("acme/papers-impl", pr["head"]["ref"]) == before
    assert len([p for p in world.gh.pulls("acme/papers-impl") if p["head"]["ref"] == pr["head"]["ref"]]) == 1
    mine = [c for c in world.gh.comments_on("acme/papers-impl", pr["number"]) if c["user"]["login"] == "lit2code[bot]"]
    assert len(mine) == 1  # the second job edited the pull request's one status comment


def test_signatures_bodies_and_events_that_start_nothing(world: World, server: Server) -> None:
    _, payload = world.push({"notes.md": "not a digest\n"})
    jobs_before = len(server.jobs())
    wrong = build_delivery("push", payload, secret="not-the-secret")
    missing = build_delivery("push", payload, secret=world.secret, signature=None)
    truncated = build_delivery("push", payload, secret=world.secret)
    truncated.headers["X-Hub-Signature-256"] = truncated.headers["X-Hub-Signature-256"][:-8]
    for delivery in (wrong, missing, truncated):
        assert send(server.hook, delivery).status_code == 401
    huge = build_delivery("push", secret=world.secret, body=b"{" + b" " * (5 * 1024 * 1024) + b"}")
    assert send(server.hook, huge).status_code == 413
    bad = server.deliver("push", body=b"{not json")
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    assert server.deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}).json()["ignored"] == "pong"
    assert "does not act on" in server.deliver("issues", {"action": "opened", "repository": {}}).json()["ignored"]
    ignored = server.deliver("push", payload)  # a push with no digest in it: a job that finds nothing to do
    assert ignored.status_code == 202
    assert server.wait(ignored.json()["job"])["result"] == {"digests": []}
    assert len(server.jobs()) == jobs_before + 1  # only the last one got past the door
    assert httpx.get(server.url + "/runs/../../etc", timeout=5).status_code == 404


def test_commands_from_writers_readers_and_bots(world: World, server: Server) -> None:
    world.gh.commit("acme/digests", {"digests/second.jsonl": SECOND}, branch="main", author="alice")
    issue = world.gh.create_issue("acme/digests", "Please run the second digest", user="carol")["number"]
    refused = server.deliver("issue_comment", world.comment(issue, "/lit2code run digests/second.jsonl", "carol"))
    refusal = server.wait(refused.json()["job"])
    assert refusal["status"] == "done", refusal["error"]
    replies = [c for c in world.gh.comments_on("acme/digests", issue) if c["user"]["login"] == "lit2code[bot]"]
    assert len(replies) == 1 and "write permission" in replies[0]["body"] and "(yours: read)" in replies[0]["body"]
    assert not [p for p in world.gh.pulls("acme/papers-impl") if p["head"]["ref"].startswith("lit2code/second-")]
    # A bot's command and lit2code's own words are not commands at all.
    bot = world.comment(issue, "/lit2code run digests/second.jsonl", "carol")
    bot["sender"] = {**bot["sender"], "type": "Bot", "login": "ci[bot]"}
    bot["comment"]["user"] = {**bot["comment"]["user"], "type": "Bot", "login": "ci[bot]"}
    assert "bot" in server.deliver("issue_comment", bot).json()["ignored"]
    # A private org member with write access (author_association NONE) may command it.
    command = world.comment(issue, "/lit2code run digests/second.jsonl", "dana")
    assert command["comment"]["author_association"] == "NONE"  # what a permission check on it would misjudge
    job = server.wait(server.deliver("issue_comment", command).json()["job"])
    assert job["status"] == "done" and job["result"]["pr"], job
    pr = _pr(world, "lit2code/second-")
    assert pr["draft"] and len(committed_on(world, pr["head"]["ref"])) >= 1
    replies = [c for c in world.gh.comments_on("acme/digests", issue) if c["user"]["login"] == "lit2code[bot]"]
    assert len(replies) == 2 and f"acme/papers-impl#{pr['number']}" in replies[-1]["body"]
    reactions = world.gh.reactions_on(command["comment"]["id"])
    assert [r["content"] for r in reactions] == ["eyes"]  # seen at once, before the run


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/lit2code run ../../etc/passwd", "not a path inside the repository"),
        ("/lit2code run digests/missing.jsonl", "there is no file `digests/missing.jsonl`"),
        ("/lit2code run digests/broken.jsonl", "is not a digest lit2code can read"),
        ("/lit2code run digests/second.jsonl planner=astrology", "unknown planner"),
        ("/lit2code reject some-paper", "works on a lit2code pull request"),
    ],
)
def test_a_command_that_cannot_run_gets_one_clear_reply(world: World, server: Server, line: str, says: str) -> None:
    if world.gh.read_file("acme/digests", "digests/broken.jsonl") is None:
        world.gh.commit("acme/digests", {"digests/broken.jsonl": '{"title": "x"}\n{oops\n'}, author="alice")
    if world.gh.read_file("acme/digests", "digests/second.jsonl") is None:
        world.gh.commit("acme/digests", {"digests/second.jsonl": SECOND}, author="alice")
    issue = world.gh.create_issue("acme/digests", f"try {line}", user="alice")["number"]
    job = server.wait(server.deliver("issue_comment", world.comment(issue, line, "alice")).json()["job"])
    assert job["status"] == "done", job["error"]
    replies = [c["body"] for c in world.gh.comments_on("acme/digests", issue) if c["user"]["login"] == "lit2code[bot]"]
    assert len(replies) == 1 and says in replies[0], replies


def test_the_same_push_twice_and_under_two_ids_makes_one_job(world: World, server: Server) -> None:
    _, payload = world.push({"digests/third.jsonl": THIRD})
    delivery = build_delivery("push", payload, secret=world.secret)

    async def all_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient() as client:
            sends = [delivery, redeliver(delivery), redeliver(delivery, new_id=True), redeliver(delivery, new_id=True)]
            return await asyncio.gather(*(asend(server.hook, d, client=client) for d in sends))

    answers = asyncio.run(all_at_once())
    assert [a.status_code for a in answers] == [202] * 4
    jobs = {a.json()["job"] for a in answers}
    assert len(jobs) == 1 and sum(not a.json()["duplicate"] for a in answers) == 1
    assert server.wait(jobs.pop())["status"] == "done"
    pr = _pr(world, "lit2code/third-")
    branch = pr["head"]["ref"]
    ids = committed_on(world, branch)
    assert ids and len(ids) == len(set(ids))
    assert len(world.gh.requests("POST /repos/{owner}/{repo}/pulls", path_contains="papers-impl")) == len(
        world.gh.pulls("acme/papers-impl")
    )  # one creation per pull request, never a second attempt


def test_reject_and_feedback_on_the_pull_request(world: World, server: Server) -> None:
    pr = _pr(world, "lit2code/2026-12-01-")
    branch, number = pr["head"]["ref"], pr["number"]
    before = committed_on(world, branch)
    victim = "per-channel-4-bit-weight-quantization-d0c90482"
    assert victim in before
    reader = server.deliver(
        "issue_comment", world.comment(number, f"/lit2code reject {victim}", "carol", "acme/papers-impl")
    )
    assert server.wait(reader.json()["job"])["result"]["refused"] == "carol"
    rejected = world.comment(
        number, f"/lit2code reject {victim} duplicate of our own quantizer", "alice", "acme/papers-impl"
    )
    job = server.wait(server.deliver("issue_comment", rejected).json()["job"])
    assert job["status"] == "done", job["error"]
    after = committed_on(world, branch)
    assert victim not in after and sorted(after) == sorted(p for p in before if p != victim)
    assert "rejected by alice: duplicate of our own quantizer" in world.gh.pulls("acme/papers-impl")[number - 1]["body"]
    assert world.gh.read_file("acme/papers-impl", ".lit2code/rejected.json", ref=branch)
    # Feedback re-plans one paper with it; the offline planner reads `rank=16`.
    target = "sparse-low-rank-adaptation-of-pre-8df6d713"
    fb = world.comment(number, f"/lit2code feedback {target} rank=16", "alice", "acme/papers-impl")
    job = server.wait(server.deliver("issue_comment", fb).json()["job"])
    assert job["status"] == "done", job["error"]
    final = committed_on(world, branch)
    assert sorted(final) == sorted(after) and len(final) == len(set(final))
    plans = [f for f in world.gh.list_files("acme/papers-impl", ref=branch) if f.endswith("plan.json")]
    sora = next(
        json.loads(world.gh.read_file("acme/papers-impl", f, ref=branch) or "{}") for f in plans if "8df6d713" in f
    )
    assert sora["paper_id"] == target


def test_no_token_is_ever_written_down(world: World, server: Server) -> None:
    tokens = [t for t in world.gh.issued_tokens() if t]
    assert tokens  # the jobs above minted installation tokens
    haystack = [server.log]
    haystack += [p for p in (world.tmp / "runs").rglob("*") if p.is_file() and p.stat().st_size < 5_000_000]
    found = [str(p) for p in haystack for t in tokens if t in p.read_text(errors="replace")]
    assert found == []
    configs = list((world.tmp / "runs" / "jobs").rglob(".git/config"))
    assert configs and all(
        "x-access-token" not in c.read_text() and "Authorization" not in c.read_text() for c in configs
    )
    assert world.app["private_key_pem"].splitlines()[1] not in server.log.read_text()


# -- a crash, and the Actions mode --------------------------------------------------------------------------
def test_a_killed_server_finishes_its_job_after_a_restart(tmp_path: Path, runtime_python: str) -> None:
    world = make_world(tmp_path)
    try:
        sha, payload = world.push({"digests/2026-12-02.jsonl": MINI})
        server = Server(world)
        job_id = server.deliver("push", payload).json()["job"]
        deadline = time.monotonic() + 120
        while not list((tmp_path / "runs").glob("job-*/checkpoints.sqlite")):  # the run is under way
            assert time.monotonic() < deadline, server.log.read_text()[-2000:]
            time.sleep(0.1)
        time.sleep(1.0)
        server.kill()
        restarted = Server(world)
        try:
            job = restarted.wait(job_id)
            assert job["status"] == "done", job["error"]
            assert "taken up again" in restarted.log.read_text()
        finally:
            restarted.stop()
        branch = _pr(world, "lit2code/2026-12-02-")["head"]["ref"]
        ids = committed_on(world, branch)
        assert len(ids) == 4 and len(set(ids)) == 4  # each paper once
        assert [c["status"] for c in world.gh.check_runs("acme/digests", sha)] == ["completed"]
        assert len(world.gh.pulls("acme/papers-impl")) == 1
    finally:
        world.gh.stop()


def test_the_actions_mode_handles_a_recorded_event(tmp_path: Path, runtime_python: str) -> None:
    world = make_world(tmp_path)
    world.gh.set_installation_token_lifetime(2)  # shorter than the run: the client must refresh its token
    try:
        _, payload = world.push({"digests/actions.jsonl": SECOND})
        event = tmp_path / "event.json"
        event.write_text(json.dumps(payload))
        env = {**world.env(), "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(event), "GITHUB_RUN_ID": "42"}
        env.pop("LIT2CODE_GITHUB_WEBHOOK_SECRET")  # the Actions mode has no webhook
        proc = subprocess.run(
            [sys.executable, "-m", "agent", "github", "action"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        pr = _pr(world, "lit2code/actions-")
        assert pr["draft"] and committed_on(world, pr["head"]["ref"])
        minted = world.gh.requests("POST /app/installations/{installation_id}/access_tokens")
        assert len(minted) >= 2 and all(m["status"] == 201 for m in minted)
        assert not [r for r in world.gh.requests(kind="rest") if r["status"] == 401]  # never used one expired
        workflow = subprocess.run(
            [sys.executable, "-m", "agent", "github", "init-workflow", str(tmp_path / "checkout")],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        assert workflow.returncode == 2 and "no such directory" in workflow.stderr
        (tmp_path / "checkout").mkdir()
        subprocess.run(
            [sys.executable, "-m", "agent", "github", "init-workflow", str(tmp_path / "checkout")], check=True
        )
        text = (tmp_path / "checkout" / ".github" / "workflows" / "lit2code.yml").read_text()
        assert "cancel-in-progress: false" in text and "actions/checkout@11bd7190" in text
        assert "contents: read" in text and "lit2code github action" in text
    finally:
        world.gh.stop()


def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LIT2CODE_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.run([sys.executable, "-m", "agent", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "LIT2CODE_GITHUB_WEBHOOK_SECRET" in proc.stderr


# -- the queue, the quick lane, and tokens -------------------------------------------------------------------
def test_the_queue_dedupes_serialises_per_repository_and_migrates(tmp_path: Path) -> None:
    import sqlite3

    from agent.workflow.jobs import MIGRATIONS, JobQueue

    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as db:  # a queue made by the first version: only the first migration
        db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        db.executescript(MIGRATIONS[0][1])
        db.execute("INSERT INTO _migrations VALUES (?, 'then')", (MIGRATIONS[0][0],))
        db.execute(
            "INSERT INTO jobs (key, repo, kind, payload, created_at) VALUES ('old', 'a/b', 'push', '{}', 'then')"
        )
    queue = JobQueue(path)
    assert queue.migrations() == [name for name, _ in MIGRATIONS] and len(MIGRATIONS) >= 4
    assert queue.get(1).lane == "run" and queue.get(1).status == "queued"  # kept, and given the new column
    first, new = queue.enqueue("d1", "push", "k1", "a/b", "push", {})
    assert new and first.id == 2
    assert queue.enqueue("d1", "push", "k1", "a/b", "push", {}) == (queue.get(first.id), False)  # redelivery
    assert queue.enqueue("d2", "push", "k1", "a/b", "push", {})[1] is False  # the same event, another id
    quick, _ = queue.enqueue("d3", "issue_comment", "k3", "a/b", "command", {}, lane="quick")
    taken = [queue.claim(), queue.claim(), queue.claim()]
    assert [j.id if j else None for j in taken] == [quick.id, 1, None]  # quick first; one run of a/b at a time
    assert queue.recover() == [1, quick.id]  # a restart puts what was running back in the queue
    again = [queue.claim(), queue.claim()]
    assert [j.id for j in again if j] == [quick.id, 1] and queue.get(1).attempts == 2


def test_status_and_cancel_answer_at_once(world: World, server: Server) -> None:
    issue = world.gh.create_issue("acme/digests", "what is lit2code doing?", user="alice")["number"]
    job = server.wait(server.deliver("issue_comment", world.comment(issue, "/lit2code status", "alice")).json()["job"])
    assert job["status"] == "done", job["error"]
    (reply,) = [c["body"] for c in world.gh.comments_on("acme/digests", issue) if c["user"]["login"] == "lit2code[bot]"]
    assert "| job | what | status |" in reply and f"| {job['id']} | `/lit2code status` |" in reply
    cancelled = world.comment(issue, "/lit2code cancel", "alice")
    job = server.wait(server.deliver("issue_comment", cancelled).json()["job"])
    assert job["status"] == "done" and job["result"] == {"cancelled": []}


def test_the_sandbox_never_sees_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime_python: str) -> None:
    from agent.sandbox.process import ProcessSandbox

    secret = "ghs_" + "s3cr3t" * 6
    for name in ("LIT2CODE_GITHUB_TOKEN", "LIT2CODE_GITHUB_PRIVATE_KEY", "GITHUB_TOKEN"):
        monkeypatch.setenv(name, secret)
    (tmp_path / "test_env.py").write_text(
        "import os\n\n\ndef test_env():\n    print(sorted(os.environ.items()))\n    assert 'PATH' in os.environ\n"
    )
    sandbox = ProcessSandbox()
    try:
        cold, _ = sandbox.exec(tmp_path, ["env"])
        warm, _ = sandbox.run_pytest(tmp_path, ["-q", "-s", "test_env.py"], trusted=True)
        pooled, _ = sandbox.run_pytest(tmp_path, ["-q", "-s", "test_env.py"], trusted=False)
    finally:
        sandbox.close()
    for result in (cold, warm, pooled):
        assert result.exit_code == 0 and "PATH" in result.stdout
        assert secret not in result.stdout + result.stderr and "GITHUB" not in result.stdout


def test_a_fine_grained_token_alone_reports_with_commit_statuses(tmp_path: Path, runtime_python: str) -> None:
    world = make_world(tmp_path)
    try:
        pat = world.gh.create_pat(
            "alice",
            repositories=["acme/digests", "acme/papers-impl"],
            permissions={"metadata": "read", "contents": "write", "pull_requests": "write", "issues": "write",
                         "statuses": "write"},
        )  # fmt: skip
        sha, payload = world.push({"digests/pat.jsonl": SECOND})
        event = tmp_path / "event.json"
        event.write_text(json.dumps(payload))
        env = {k: v for k, v in world.env().items() if not k.startswith("LIT2CODE_GITHUB_APP") and "PRIVATE" not in k}
        env |= {"LIT2CODE_GITHUB_TOKEN": pat, "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(event)}
        proc = subprocess.run(
            [sys.executable, "-m", "agent", "github", "action"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        pr = _pr(world, "lit2code/pat-")
        assert pr["user"]["login"] == "alice" and committed_on(world, pr["head"]["ref"])
        states = [s["state"] for s in world.gh.commit_statuses("acme/digests", sha)]
        assert states and states[-1] == "success" and "pending" in states
        assert pat not in proc.stderr
    finally:
        world.gh.stop()
