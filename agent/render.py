"""Rendering: a Plan through its family's Jinja2 templates into the files of one paper package."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined, TemplateError

from agent.families import FamilySpec
from agent.models import Paper, Plan, RenderedModule
from agent.settings import templates_dir

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RenderError(RuntimeError):
    pass


def paper_slug(paper_id: str, module_name: str) -> str:
    """The package folder name under papers/: module name plus the id's distinctive tail (a valid identifier)."""
    m = re.search(r"-([0-9a-f]{8})$", paper_id)  # slug ids end in a title hash: that alone is unique
    tail = m.group(1) if m else re.sub(r"[^a-z0-9]+", "_", paper_id.lower()).strip("_")
    return f"{module_name}_{tail}"


SHARED = "_shared"  # templates/_shared/: macros, test helpers and the README base every family uses


def template_context(plan: Plan, paper: Paper, family: FamilySpec) -> dict:
    hp = {**family.defaults(), **plan.hyperparameters}
    opt = {name: name in plan.options for name in family.options}
    slots = {name: s.default for name, s in family.slots.items()} | plan.slots
    slug = paper_slug(paper.paper_id, plan.module_name)
    return {"plan": plan, "paper": paper, "family": family, "hp": hp, "opt": opt, "slots": slots, "slug": slug}


def environment(family_path: Path) -> Environment:
    """A family's own folder first, then the shared folder under the `_shared/` prefix; nothing else."""
    return Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(str(family_path)),
                PrefixLoader({SHARED: FileSystemLoader(str(templates_dir() / SHARED))}),
            ]
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(plan: Plan, paper: Paper, family: FamilySpec) -> RenderedModule:
    for field in ("module_name", "class_name"):
        if not _IDENT.match(getattr(plan, field)):
            raise RenderError(f"paper {paper.paper_id}: plan.{field}={getattr(plan, field)!r} is not an identifier")
    if family.path is None:
        raise RenderError(f"family {family.id} has no template folder")
    env = environment(family.path)
    ctx = template_context(plan, paper, family)
    mod = plan.module_name
    names = {"module.py.j2": f"{mod}.py", "test_module.py.j2": f"test_{mod}.py", "README.md.j2": "README.md"}
    files: dict[str, str] = {}
    # READMEs show slot code inline (in tables and sentences): one line each there, in full below.
    readme_ctx = {**ctx, "slots": {k: " ".join(v.split())[:160] for k, v in ctx["slots"].items()}}
    for template, out in names.items():
        try:
            files[out] = env.get_template(template).render(**(readme_ctx if out == "README.md" else ctx))
        except TemplateError as exc:
            where = f"{family.path / template}"
            lineno = getattr(exc, "lineno", None)
            raise RenderError(
                f"paper {paper.paper_id}: rendering {where}{f':{lineno}' if lineno else ''} failed: {exc}"
            ) from exc
    written = {k: v for k, v in plan.slots.items() if k in family.slots and not family.llm_only}
    if written:
        blocks = "".join(f"\n`{k}`:\n\n```python\n{v.strip()}\n```\n" for k, v in sorted(written.items()))
        files["README.md"] = (
            files["README.md"].rstrip("\n")
            + f"\n\n## Code written by the {plan.planner} planner\n\nThese template slots hold the planner's code "
            + "instead of the family's default; the template's tests passed with it.\n"
            + blocks
        )
    if plan.fallback_from:  # the planner asked for gave no usable answer: say who planned it, and why
        files["README.md"] = (
            files["README.md"].rstrip("\n") + f"\n\nplanner: {plan.planner}, fallback from {plan.fallback_from}\n"
        )
    files["__init__.py"] = (
        f'"""{plan.method_name}: {paper.title}"""\n\nfrom .{mod} import {plan.class_name}\n\n'
        f'__all__ = ["{plan.class_name}"]\n'
    )
    files["plan.json"] = plan_json(plan)
    return RenderedModule(slug=ctx["slug"], files=files)


def plan_json(plan: Plan) -> str:
    """The package's plan.json: the plan that produced (or, edited by a reviewer, accompanies) its code."""
    return json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
