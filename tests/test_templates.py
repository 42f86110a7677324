"""The peft-adapter, mixture-of-experts, distillation and quantization templates.

Fast tests (no torch) render every option combination and check that the module and its tests
compile, that the rendered test functions are exactly the family.yaml `tests` for those options
and that hostile plan values cannot break out of the generated code. The slow tests run the
rendered tests with the sandbox runtime (`runtime_python`, from conftest).
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent.families import FamilySpec, load_family, templates_dir
from agent.models import Paper, Plan
from agent.render import render

FAMILIES = ("peft-adapter", "mixture-of-experts", "distillation", "quantization")

# non-default hyper-parameters every family must also pass with (all options on)
ALTERNATIVE_HP: dict[str, dict[str, int | float]] = {
    "peft-adapter": {"rank": 4, "alpha": 8.0, "dropout": 0.1},
    "mixture-of-experts": {"num_experts": 4, "top_k": 1, "hidden_dim": 16, "expert_rank": 8, "expert_alpha": 4.0},
    "distillation": {"temperature": 2.0, "alpha": 0.9, "feature_weight": 0.5, "relational_weight": 2.0},
    "quantization": {"bits": 4, "act_bits": 6, "percentile": 99.9},
}
HOSTILE_TITLE = 'Break """out""" \\ of "the" docstring\n"""\nimport os\nos.system("echo pwned")\n"""'
HOSTILE_VALUE = '1)\nimport os  # "'


def family(family_id: str) -> FamilySpec:
    # load_family rather than load_families: a half-written family elsewhere must not fail these tests
    return load_family(templates_dir() / family_id)


def option_combos(spec: FamilySpec) -> list[tuple[str, ...]]:
    names = sorted(spec.options)
    return [combo for n in range(len(names) + 1) for combo in itertools.combinations(names, n)]


def make_plan(
    spec: FamilySpec,
    options: tuple[str, ...],
    hyperparameters: dict | None = None,
    paper_id: str = "2501.01234",
    title: str = "Each Rank Could be an Expert",
) -> tuple[Plan, Paper]:
    paper = Paper(
        paper_id=paper_id,
        title=title,
        abstract="We propose SMoRA.",
        url=f"https://arxiv.org/abs/{paper_id}",
    )
    plan = Plan(
        paper_id=paper_id,
        family=spec.id,
        method_name="SMoRA",
        module_name="smora",
        class_name="SMoRA",
        summary=f"{title}: a method of the {spec.name} family.",
        components=list(spec.components),
        hyperparameters=hyperparameters or {},
        options=list(options),
        tests=list(spec.tests),
        not_implemented=list(spec.not_implemented),
        inferred={"method_name": "abstract: acronym SMoRA", "options": "abstract wording"},
    )
    return plan, paper


def expected_tests(spec: FamilySpec, options: tuple[str, ...]) -> list[str]:
    """family.yaml's tests; those named test_<option>_... only when that option is on."""
    return [
        t.name
        for t in spec.tests
        if not any(t.name.startswith(f"test_{o}_") and o not in options for o in spec.options)
    ]


def rendered_test_names(source: str) -> list[str]:
    tree = ast.parse(source)
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@pytest.mark.parametrize("family_id", FAMILIES)
def test_family_yaml_is_consistent(family_id: str) -> None:
    spec = family(family_id)
    assert spec.id == family_id and spec.description and spec.default_method and spec.cues.strong
    for regex in [*spec.cues.strong, *spec.cues.weak, *spec.cues.negative]:
        re.compile(regex, re.IGNORECASE)
    for name, param in spec.parameters.items():
        assert param.min is None or param.max is None or param.min <= param.max, name
        for regex in param.patterns:
            assert re.compile(regex, re.IGNORECASE).groups == 1, f"{name}: {regex}"
    for name, option in spec.options.items():
        assert option.cues, name
        for regex in option.cues:
            re.compile(regex, re.IGNORECASE)
    names = [t.name for t in spec.tests]
    assert len(names) == len(set(names)) and all(n.startswith("test_") for n in names)
    for option in spec.options:
        assert any(n.startswith(f"test_{option}_") for n in names), f"option {option} has no test"
    assert spec.not_implemented and spec.components


@pytest.mark.parametrize("family_id", FAMILIES)
def test_every_option_combination_renders_and_compiles(family_id: str) -> None:
    spec = family(family_id)
    seen_modules = set()
    for options in option_combos(spec):
        plan, paper = make_plan(spec, options)
        files = render(plan, paper, spec).files
        assert set(files) == {"smora.py", "test_smora.py", "README.md", "__init__.py", "plan.json"}
        module, tests, readme = files["smora.py"], files["test_smora.py"], files["README.md"]
        compile(module, "smora.py", "exec")
        compile(tests, "test_smora.py", "exec")
        assert "from .smora import" in tests
        assert f"class {plan.class_name}(" in module
        imports = set()
        for node in ast.walk(ast.parse(module)):
            if isinstance(node, ast.Import):
                imports |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imports.add((node.module or "").split(".")[0])
        assert imports <= {"__future__", "torch", "math", "re", "typing", "collections"}, imports
        expected = expected_tests(spec, options)
        assert rendered_test_names(tests) == expected, options
        for name in expected:
            assert f"`{name}`" in readme, name
        for item in plan.not_implemented:
            assert item in readme
        assert "{{" not in module + tests + readme and "{%" not in module + tests + readme
        seen_modules.add(module)
    assert len(seen_modules) == len(option_combos(spec))  # every option changes the code


@pytest.mark.parametrize("family_id", FAMILIES)
def test_hostile_plan_values_cannot_inject_code(family_id: str) -> None:
    spec = family(family_id)
    hostile = {name: HOSTILE_VALUE for name in spec.parameters}
    plan, paper = make_plan(spec, tuple(spec.options), hostile, title=HOSTILE_TITLE)
    plan = plan.model_copy(update={"summary": HOSTILE_TITLE, "method_name": HOSTILE_TITLE})
    files = render(plan, paper, spec).files
    for name in ("smora.py", "test_smora.py"):
        tree = ast.parse(files[name])
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "os" not in imported, name
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "system"]
        assert not calls, name


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("family_id", FAMILIES)
def test_rendered_code_is_lint_clean(family_id: str, tmp_path: Path) -> None:
    spec = family(family_id)
    for i, options in enumerate(option_combos(spec)):
        plan, paper = make_plan(spec, options)
        folder = tmp_path / f"combo{i}"
        folder.mkdir()
        for name, text in render(plan, paper, spec).files.items():
            if name.endswith(".py"):
                (folder / name).write_text(text)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--line-length",
            "110",
            "--select",
            "E,F,W,I,B,UP,SIM",
            "--output-format",
            "concise",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]


def _write_package(root: Path, plan: Plan, paper: Paper, spec: FamilySpec) -> str:
    rendered = render(plan, paper, spec)
    folder = root / "papers" / rendered.slug
    folder.mkdir(parents=True)
    for name, text in rendered.files.items():
        (folder / name).write_text(text)
    return rendered.slug


USAGE_TEST = """
import pathlib, re

import pytest

READMES = sorted(pathlib.Path("papers").glob("*/README.md"))


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_usage_snippet_runs(readme):
    code = re.search(r"```python\\n(.*?)```", readme.read_text(), re.S).group(1)
    exec(compile(code, str(readme), "exec"), {"__name__": "__usage__"})
"""


@pytest.mark.parametrize("family_id", FAMILIES)
def test_rendered_tests_pass_for_every_option_combination(family_id: str, warm_sandbox, tmp_path: Path) -> None:
    """Each combination (and the alternative hyper-parameters) is one package of a generated repo."""
    spec = family(family_id)
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "__init__.py").write_text("")
    cases: dict[str, tuple[tuple[str, ...], dict]] = {}
    variants = [(combo, {}) for combo in option_combos(spec)]
    variants.append((tuple(sorted(spec.options)), ALTERNATIVE_HP[family_id]))
    for i, (options, hp) in enumerate(variants):
        plan, paper = make_plan(spec, options, hp, paper_id=f"2501.{i:05d}")
        cases[_write_package(tmp_path, plan, paper, spec)] = (options, hp)
    # the usage snippet of every README runs as written, from the repository root
    (tmp_path / "test_readme_usage.py").write_text(USAGE_TEST)
    result, files = warm_sandbox.run_pytest(
        tmp_path,
        ["-q", "-p", "no:cacheprovider", "--junitxml=junit.xml", "papers", "test_readme_usage.py"],
        trusted=True,
        timeout=600,
        collect=["junit.xml"],
    )
    assert result.exit_code == 0, result.stdout[-6000:] + result.stderr[-2000:]
    outcomes: dict[str, dict[str, set[str]]] = {slug: {} for slug in cases}
    usage = []
    for case in ET.fromstring(files["junit.xml"]).iter("testcase"):
        assert case.find("failure") is None and case.find("error") is None, case.get("name")
        if case.get("classname", "") == "test_readme_usage":
            usage.append(case.get("name", ""))
            continue
        slug = case.get("classname", "").split(".")[1]
        outcome = "skipped" if case.find("skipped") is not None else "passed"
        outcomes[slug].setdefault(outcome, set()).add(case.get("name", ""))
    for slug, (options, hp) in cases.items():
        passed = {name.split("[")[0] for name in outcomes[slug].get("passed", set())}
        assert passed == set(expected_tests(spec, options)), (options, hp)
        skipped = outcomes[slug].get("skipped", set())
        assert all("cuda" in name for name in skipped), (options, hp, skipped)
    assert len(usage) == len(cases)  # one README usage snippet per package, each run
