"""`lit2code templates check` over every family and option combination, and the mutation tool."""

from __future__ import annotations

import ast

import pytest

from agent.families import load_families
from agent.sandbox.process import ProcessSandbox
from agent.workflow.mutants import make_mutants, score_family
from agent.workflow.templates_check import check_all, option_combos
from tests.conftest import docker_or_skip


def _assert_all_pass(results) -> None:
    failures = [f"{r.family} {r.options} {r.hyperparameters}: {r.error}" for r in results if not r.ok]
    assert not failures, "\n\n".join(failures)


# Every family is checked in at least one backend: all of them in docker when it is usable (as in CI,
# by the test below), else all of them here; with docker, the process backend checks a sample.
PROCESS_SAMPLE = ["generic", "mixture-of-experts", "quantization"]


def _docker_usable() -> bool:
    try:
        from agent.sandbox.docker_backend import DockerSandbox

        return DockerSandbox.available()[0]
    except Exception:
        return False


def test_templates_check_passes_in_the_process_sandbox(runtime_python: str) -> None:
    families = load_families()
    if _docker_usable():
        families = {k: v for k, v in families.items() if k in PROCESS_SAMPLE}
    results = check_all(families, ProcessSandbox())
    expected = sum(len(option_combos(f)) + 1 for f in families.values())
    assert len(results) == expected and {r.family for r in results} == set(families)
    _assert_all_pass(results)
    assert all(r.passed >= 5 for r in results)


def test_the_check_reports_a_broken_combination(runtime_python: str, tmp_path) -> None:
    import shutil

    from agent.families import load_family

    broken = tmp_path / "generic"
    shutil.copytree(load_families()["generic"].path, broken)
    text = (broken / "family.yaml").read_text().replace("return self.g * x / norm", "return self.g * x")
    (broken / "family.yaml").write_text(text)
    results = check_all({"generic": load_family(broken)}, ProcessSandbox())
    assert results and not any(r.ok for r in results)
    assert all(r.failed >= 1 and "test_output_norm_equals_the_scale" in (r.error or "") for r in results)


@pytest.mark.docker
def test_every_family_and_option_combination_passes_in_the_docker_sandbox() -> None:
    sandbox = docker_or_skip()
    families = load_families()
    results = check_all(families, sandbox)
    assert {r.family for r in results} == set(families)
    _assert_all_pass(results)
    assert all(r.passed >= 5 for r in results)


def test_mutator_changes_behaviour_not_formatting() -> None:
    source = "def f(a, b):\n    x = a + b\n    if a < b:\n        return x * 2\n    return -x\n"
    mutants = make_mutants(source)
    kinds = {m.kind for m in mutants}
    assert {"binop", "compare", "constant", "unary", "return", "statement"} <= kinds
    baseline = ast.unparse(ast.parse(source))
    assert all(m.source != baseline for m in mutants)
    assert len({m.source for m in mutants}) == len(mutants)
    assert len(make_mutants(source, limit=3)) == 3


def test_a_family_kills_most_of_a_sample_of_its_mutants(runtime_python: str) -> None:
    family = load_families()["distillation"]
    score = score_family(family, ProcessSandbox(), limit=12)
    assert score.total == 12 and score.killed + len(score.survivors) == 12
    assert score.score >= 0.5
