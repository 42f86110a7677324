"""`lit2code templates check`: render every family with every option combination and run its tests.

All combinations of one family go into one workspace and one pytest run (one torch import), and the
junit XML is split back per package, so checking every family stays quick.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel

from agent.families import FamilySpec
from agent.models import Paper, Plan, RenderedModule, TestSpec
from agent.render import RenderError, render
from agent.sandbox.base import Sandbox
from agent.validate import JUNIT, pytest_args, static_check, write_workspace


class CheckResult(BaseModel):
    family: str
    options: list[str]
    hyperparameters: str  # "defaults" or "alternative"
    ok: bool
    passed: int = 0
    failed: int = 0
    error: str | None = None


def option_combos(family: FamilySpec) -> list[list[str]]:
    names = sorted(family.options)
    return [list(c) for r in range(len(names) + 1) for c in itertools.combinations(names, r)]


def alternative_hyperparameters(family: FamilySpec) -> dict:
    """Non-default values inside each parameter's range: ints + 1, floats halved, bools flipped."""
    alt: dict = {}
    for name, p in family.parameters.items():
        v = p.default
        if isinstance(v, bool):
            alt[name] = not v
        elif isinstance(v, int):
            alt[name] = v + 1 if p.max is None or v + 1 <= p.max else v - 1
        elif isinstance(v, float):
            alt[name] = v / 2 if v else 0.5
        else:
            alt[name] = v
    return alt


def sample_plan(family: FamilySpec, options: list[str], hyper: dict | None = None, tag: str = "") -> tuple[Plan, Paper]:
    method = family.default_method
    paper = Paper(
        paper_id=f"check-{family.id}{tag}",
        title=f"{method}: a sample paper for the {family.id} family",
        abstract=f"We propose {method}. {family.description}",
    )
    module = "".join(c if c.isalnum() else "_" for c in method.lower()).strip("_") or "method"
    plan = Plan(
        paper_id=paper.paper_id,
        paper_title=paper.title,
        family=family.id,
        method_name=method,
        module_name=module,
        class_name="".join(c for c in method if c.isalnum()) or "Method",
        summary=f"{method} ({family.name}).",
        components=list(family.components),
        hyperparameters={**family.defaults(), **(hyper or {})},
        options=options,
        tests=[TestSpec(**t.model_dump()) for t in family.tests],
        not_implemented=list(family.not_implemented),
        inferred={k: "family default" for k in family.parameters},
    )
    return plan, paper


def _per_package(xml: bytes) -> dict[str, tuple[int, int]]:
    """package slug -> (passed, failed+errors), from the testcases' classnames (papers.SLUG.test_x)."""
    out: dict[str, list[int]] = {}
    for case in ET.fromstring(xml).iter("testcase"):
        parts = (case.get("classname") or "").split(".")
        slug = parts[1] if len(parts) > 1 and parts[0] == "papers" else "?"
        row = out.setdefault(slug, [0, 0])
        if case.find("failure") is not None or case.find("error") is not None:
            row[1] += 1
        elif case.find("skipped") is None:
            row[0] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def check_family(family: FamilySpec, sandbox: Sandbox, timeout: float = 600.0) -> list[CheckResult]:
    jobs: list[tuple[CheckResult, RenderedModule | None]] = []
    variants: list[tuple[list[str], dict | None, str]] = [(c, None, "defaults") for c in option_combos(family)]
    variants.append((sorted(family.options), alternative_hyperparameters(family), "alternative"))
    for i, (combo, hyper, label) in enumerate(variants):
        plan, paper = sample_plan(family, combo, hyper, tag=f"-{i}")
        res = CheckResult(family=family.id, options=combo, hyperparameters=label, ok=False)
        try:
            rendered = render(plan, paper, family)
        except RenderError as exc:
            res.error = str(exc)
            jobs.append((res, None))
            continue
        problem = static_check(rendered)
        if problem:
            res.error = problem
            jobs.append((res, None))
            continue
        jobs.append((res, rendered))
    runnable = [r for _, r in jobs if r is not None]
    if runnable:
        with tempfile.TemporaryDirectory(prefix="lit2code-check-") as tmp:
            for r in runnable:
                write_workspace(r, Path(tmp))
            result, files = sandbox.run_pytest(
                Path(tmp), pytest_args("papers"), trusted=True, timeout=timeout, collect=[JUNIT]
            )
        counts = _per_package(files[JUNIT]) if JUNIT in files else {}
        for res, done in jobs:
            if done is None:
                continue
            passed, failed = counts.get(done.slug, (0, 0))
            res.passed, res.failed = passed, failed
            res.ok = passed > 0 and failed == 0
            if not res.ok:
                res.error = "timed out" if result.timed_out else (result.stdout[-1500:] or result.stderr[-1500:])
    return [res for res, _ in jobs]


def check_all(
    families: dict[str, FamilySpec], sandbox: Sandbox, only: list[str] | None = None, jobs: int | None = None
) -> list[CheckResult]:
    """Every family (or `only` these), `jobs` families at once (default: CPU count); results in family order."""
    chosen = [fam for fid, fam in families.items() if not only or fid in only]
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        return [r for results in pool.map(lambda fam: check_family(fam, sandbox), chosen) for r in results]
