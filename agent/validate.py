"""Validation: static checks on the rendered files, then the module's tests in the sandbox."""

from __future__ import annotations

import ast
import contextlib
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from agent.models import Plan, RenderedModule, TestCounts, Validation
from agent.sandbox.base import GpuMode, Sandbox

JUNIT = ".lit2code-junit.xml"
# Generated code may import only these (plus relative imports of its own package).
ALLOWED_IMPORTS = {
    "torch",
    "math",
    "typing",
    "dataclasses",
    "__future__",
    "pytest",
    "collections",
    "itertools",
    "functools",
    "numpy",
    "copy",
    "enum",
    "abc",
    "random",
    "warnings",
    "operator",
    "contextlib",
    "re",
    "fnmatch",
    "string",
    "numbers",
    "types",
}

_AST_LOCK = threading.Lock()

# Builtins that reach files, the interpreter or the user; generated ML code needs none of them.
FORBIDDEN_CALLS = {"open", "exec", "eval", "compile", "__import__", "breakpoint", "input", "globals", "vars"}
FORBIDDEN_ATTRS = {"__builtins__", "__subclasses__", "__globals__", "__code__", "__import__", "__loader__"}


def static_check(rendered: RenderedModule) -> str | None:
    """Compile every Python file and reject imports outside the allow-list; returns the problem or None.

    CPython 3.11 before 3.11.8 fails `ast.parse` run in two threads at once ("AST constructor recursion
    depth mismatch"): calls are serialised here, and the graph calls it on the event-loop thread, where
    LangGraph itself parses node sources.
    """
    for name, src in sorted(rendered.files.items()):
        if not name.endswith(".py"):
            continue
        try:
            with _AST_LOCK:
                tree = ast.parse(src, filename=name)
                compile(tree, name, "exec")
        except SyntaxError as exc:
            return f"{rendered.slug}/{name}:{exc.lineno}: syntax error: {exc.msg}"
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)  # statements and expressions have one; the module does not
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            for mod in mods:
                if mod.split(".")[0] not in ALLOWED_IMPORTS:
                    return f"{rendered.slug}/{name}:{line}: import of {mod!r} is not allowed in generated code"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                where = f"{rendered.slug}/{name}:{line}"
                return f"{where}: call of {node.func.id}() is not allowed in generated code"
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
                return f"{rendered.slug}/{name}:{line}: use of {node.attr} is not allowed in generated code"
            if isinstance(node, ast.Name) and node.id in FORBIDDEN_ATTRS:
                return f"{rendered.slug}/{name}:{line}: use of {node.id} is not allowed in generated code"
    return None


def parse_junit(xml: bytes) -> TestCounts:
    root = ET.fromstring(xml)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failures = errors = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failures += int(s.get("failures", 0))
        errors += int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    return TestCounts(passed=tests - failures - errors - skipped, failed=failures, errors=errors, skipped=skipped)


def _trim(text: str, lines: int = 60) -> str:
    """Keep the part of pytest's output that explains a failure: the short summary and last lines."""
    rows = text.strip().splitlines()
    return "\n".join(rows[-lines:])


def summary_line(error: str | None) -> str:
    """One line for a report: pytest's first FAILED/ERROR line, else the last non-empty line."""
    if not error:
        return ""
    rows = [r.strip() for r in error.splitlines() if r.strip()]
    for r in rows:
        if r.startswith(("FAILED ", "ERROR ")):
            return r[:300]
    return rows[-1][:300] if rows else ""


def write_workspace(rendered: RenderedModule, root: Path) -> Path:
    pkg = root / "papers" / rendered.slug
    pkg.mkdir(parents=True)
    (root / "papers" / "__init__.py").write_text("")
    for name, content in rendered.files.items():
        (pkg / name).write_text(content)
    return pkg


def static_failure(problem: str, sandbox: Sandbox, attempt: int) -> Validation:
    return Validation(attempt=attempt, ok=False, stage="static", backend=sandbox.name, error=problem)


def is_template_code(plan: Plan) -> bool:
    """Only our own template code, as the offline planner fills it: a warm worker may be reused for it.
    Model-written code (any slot, any `generic` module) is not, nor is code a reviewer edited."""
    return plan.planner == "offline" and not plan.slots and not plan.edited_by


def pytest_args(target: str) -> list[str]:
    return ["-q", "-p", "no:cacheprovider", f"--junitxml={JUNIT}", target]


def run_tests(
    rendered: RenderedModule,
    sandbox: Sandbox,
    attempt: int,
    *,
    trusted: bool,
    timeout: float = 300.0,
    memory: str = "4g",
    gpu: GpuMode = "auto",
) -> Validation:
    """The module's tests in the sandbox (after static_check passed), read from pytest's junit XML.
    `trusted` (see is_template_code) lets the sandbox reuse a warm worker for it."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lit2code-ws-") as tmp:
        write_workspace(rendered, Path(tmp))
        result, files = sandbox.run_pytest(
            Path(tmp),
            pytest_args(f"papers/{rendered.slug}"),
            trusted=trusted,
            timeout=timeout,
            memory=memory,
            gpu=gpu,
            collect=[JUNIT],
        )
    counts = TestCounts()
    if JUNIT in files:
        with contextlib.suppress(ET.ParseError):
            counts = parse_junit(files[JUNIT])
    ok = result.exit_code == 0 and counts.passed > 0 and counts.failed == 0 and counts.errors == 0
    error = None
    if not ok:
        if result.timed_out:
            error = f"tests timed out after {timeout:.0f}s"
        elif result.oom_killed:
            error = f"tests were killed for exceeding the {memory} memory limit"
        else:
            error = _trim(result.stdout + "\n" + result.stderr) or f"pytest exited {result.exit_code}"
    return Validation(
        attempt=attempt,
        ok=ok,
        stage="tests",
        tests=counts,
        backend=result.backend,
        device="cuda" if result.gpu else "cpu",
        duration_s=round(time.monotonic() - started, 3),
        error=error,
        mode=result.mode,
        mode_note=result.mode_note,
    )
