"""`lit2code templates check` over every family and option combination, and the mutation tool."""

from __future__ import annotations

import ast

import pytest

from agent.families import load_families
from agent.mutants import make_mutants, score_family
from agent.sandbox.process import ProcessSandbox
from agent.templates_check import check_all, option_combos
from tests.conftest import docker_or_skip


def _assert_all_pass(results) -> None:
    failures = [f"{r.family} {r.options} {r.hyperparameters}: {r.error}" for r in results if not r.ok]
    assert not failures, "\n\n".join(failures)


def test_every_family_and_option_combination_passes_in_the_process_sandbox(runtime_python: str) -> None:
    families = load_families()
    results = check_all(families, ProcessSandbox())
    expected = sum(len(option_combos(f)) + 1 for f in families.values())
    assert len(results) == expected and {r.family for r in results} == set(families)
    _assert_all_pass(results)
    assert all(r.passed >= 5 for r in results)


@pytest.mark.docker
def test_every_family_and_option_combination_passes_in_the_docker_sandbox() -> None:
    sandbox = docker_or_skip()
    _assert_all_pass(check_all(load_families(), sandbox))


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
