"""`lit2code eval mutants`: how many mutants of each rendered family module its own tests kill.

A small AST mutator (operators, comparisons, boolean operators, constants, unary minus, return
values, dropped statements) writes mutants of the module rendered with every option on. Each mutant
runs as one validation in the sandbox's fork server, so it costs a pytest session in a forked child,
not an interpreter start.
"""

from __future__ import annotations

import ast
import copy
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.families import FamilySpec
from agent.render import RenderError, render
from agent.sandbox.base import Sandbox
from agent.validate import write_workspace
from agent.workflow.templates_check import sample_plan

_BINOP_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_CMP_SWAP = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


class Mutant(BaseModel):
    id: int
    line: int
    kind: str
    description: str
    source: str


class FamilyScore(BaseModel):
    family: str
    score: float
    killed: int
    total: int
    survivors: list[str] = []
    error: str | None = None


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _sites(tree: ast.Module) -> Iterator[tuple[ast.AST, str, str]]:
    """(node, kind, description) for every place a mutation applies."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
            yield node, "binop", f"{type(node.op).__name__} -> {_BINOP_SWAP[type(node.op)].__name__}"
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in _CMP_SWAP:
            yield node, "compare", f"{type(node.ops[0]).__name__} -> {_CMP_SWAP[type(node.ops[0])].__name__}"
        elif isinstance(node, ast.BoolOp):
            yield node, "boolop", "and <-> or"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
            yield node, "unary", f"drop {type(node.op).__name__}"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            yield node, "constant", f"{node.value!r} changed"
        elif isinstance(node, ast.Return) and node.value is not None:
            yield node, "return", "return None"
        elif isinstance(node, ast.Assign | ast.AugAssign) or (isinstance(node, ast.Expr) and not _is_docstring(node)):
            yield node, "statement", "statement dropped"


def _apply(node: ast.AST, kind: str) -> ast.AST | None:
    """The mutated replacement for `node` (a copy), or None when this site has nothing to mutate."""
    # The node kinds below are the ones _sites yields for each `kind`.
    old: Any = node
    new: Any = copy.deepcopy(node)
    if kind == "binop":
        new.op = _BINOP_SWAP[type(old.op)]()
    elif kind == "compare":
        new.ops = [_CMP_SWAP[type(old.ops[0])](), *old.ops[1:]]
    elif kind == "boolop":
        new.op = ast.Or() if isinstance(old.op, ast.And) else ast.And()
    elif kind == "unary":
        return copy.deepcopy(old.operand)
    elif kind == "constant":
        v = old.value
        new.value = (not v) if isinstance(v, bool) else (v + 1 if isinstance(v, int) else (v * 2 if v else 1.0))
    elif kind == "return":
        new.value = ast.Constant(None)
    elif kind == "statement":
        return ast.Pass()
    return new


def _skippable(tree: ast.Module) -> set[int]:
    """ids of nodes not worth mutating: imports, __all__, docstrings, annotations, type hints."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        is_all = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        )
        if isinstance(node, ast.Import | ast.ImportFrom) or is_all:
            skip.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = node.body
            if body and _is_docstring(body[0]):
                skip.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, ast.arg) and node.annotation is not None:
            skip.update(id(n) for n in ast.walk(node.annotation))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            skip.update(id(n) for n in ast.walk(node.returns))
        if isinstance(node, ast.AnnAssign):
            skip.update(id(n) for n in ast.walk(node.annotation))
        if isinstance(node, ast.Raise):
            skip.update(id(n) for n in ast.walk(node))  # error messages are not behaviour worth mutating
    return skip


def make_mutants(source: str, limit: int | None = None, seed: int = 0) -> list[Mutant]:
    tree = ast.parse(source)
    baseline = ast.unparse(tree)
    skip = _skippable(tree)
    mutants: list[Mutant] = []
    seen = {baseline}
    for node, kind, desc in list(_sites(tree)):
        if id(node) in skip:
            continue
        replacement = _apply(node, kind)
        if replacement is None:
            continue
        # Swap the node in place, unparse, swap back: cheaper than deep-copying the tree per mutant.
        src = ast.unparse(_swap(tree, node, replacement))
        _swap(tree, replacement, node)
        if src in seen:
            continue
        seen.add(src)
        mutants.append(
            Mutant(id=len(mutants), line=getattr(node, "lineno", 0), kind=kind, description=desc, source=src)
        )
    if limit is not None and len(mutants) > limit:
        mutants = sorted(random.Random(seed).sample(mutants, limit), key=lambda m: m.id)
    return mutants


def _swap(tree: ast.Module, old: ast.AST, new: ast.AST) -> ast.Module:
    """Put `new` where `old` is, in place; returns the tree."""
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, ast.copy_location(new, old))
                return tree
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = ast.copy_location(new, old)
                        return tree
    return tree


def score_family(
    family: FamilySpec,
    sandbox: Sandbox,
    limit: int | None = 80,
    per_mutant_timeout: float | None = None,
    jobs: int | None = None,
) -> FamilyScore:
    """Run the family's tests against each mutant of its module (rendered with every option on).

    Each mutant is one validation in the sandbox's fork server (a forked child of a warm interpreter),
    `jobs` at a time (default: CPU count), with pytest's `-x`: a mutant is killed at its first failure.
    A mutant's timeout is five times the unmutated run (at least 10 s): a mutant that loops is killed.
    """
    plan, paper = sample_plan(family, sorted(family.options))
    rendered = render(plan, paper, family)
    module_file = f"{plan.module_name}.py"
    mutants = make_mutants(rendered.files[module_file], limit)
    args = ["-q", "-x", "-p", "no:cacheprovider", f"papers/{rendered.slug}"]

    def run(source: str, timeout: float) -> tuple[int, float]:
        files = {**rendered.files, module_file: source}
        with tempfile.TemporaryDirectory(prefix="lit2code-mutant-") as tmp:
            write_workspace(rendered.model_copy(update={"files": files}), Path(tmp))
            result, _ = sandbox.run_pytest(Path(tmp), args, trusted=True, timeout=timeout, memory="2g")
        return result.exit_code, result.duration_s

    code, seconds = run(rendered.files[module_file], 600.0)
    if code != 0:
        raise RuntimeError(f"{family.id}: the unmutated module's tests fail; fix them before scoring mutants")
    timeout = per_mutant_timeout or max(10.0, 5 * seconds)
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        codes = list(pool.map(lambda m: run(m.source, timeout)[0], mutants))
    survivors = [f"line {m.line}: {m.kind} ({m.description})" for m, c in zip(mutants, codes, strict=True) if c == 0]
    total = len(mutants)
    killed = total - len(survivors)
    return FamilyScore(
        family=family.id,
        score=round(killed / total, 3) if total else 1.0,
        killed=killed,
        total=total,
        survivors=survivors,
    )


def score_families(
    families: dict[str, FamilySpec],
    sandbox: Sandbox,
    only: list[str] | None = None,
    limit: int | None = 80,
    on_score: Callable[[FamilyScore], None] | None = None,
) -> list[FamilyScore]:
    """Score every family (or `only` these); one that fails to render or run is reported with its error
    and the others are still scored. `generic` has no fixed module to score: a model writes it per paper."""
    scores = []
    for fid, fam in families.items():
        if (only and fid not in only) or fam.llm_only:
            continue
        try:
            score = score_family(fam, sandbox, limit)
        except (RenderError, RuntimeError) as exc:
            score = FamilyScore(family=fid, score=0.0, killed=0, total=0, error=str(exc))
        scores.append(score)
        if on_score:
            on_score(score)
    return scores
