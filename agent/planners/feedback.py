"""A reviewer's feedback on a plan, read as structured edits where it is written as one.

Clauses are separated by newlines, `;` or `,`:

    rank=16                 a family parameter (also `set rank 16`, `rank = 16`)
    option rank_gate on     switch a family option on or off (`option X` alone means on)
    name SoRA               the method's name (module and class names follow from it)
    family pruning          plan the paper under another family

Every planner gets the feedback's text; the offline planner applies the structured clauses with
`apply` and records, in the plan's `review_notes`, what it applied and what it could not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.families import FamilySpec
from agent.models import ParamValue, Plan
from agent.planners.naming import class_identifier, module_identifier

GRAMMAR = "rank=16, option NAME on|off, name NAME, family ID"
_PARAM = re.compile(r"^(?:set\s+|param(?:eter)?\s+)?(?P<k>[A-Za-z_]\w*)\s*(?:=|\s+to\s+)\s*(?P<v>\S.*)$", re.I)
_SET = re.compile(r"^(?:set|param(?:eter)?)\s+(?P<k>[A-Za-z_]\w*)\s+(?P<v>\S.*)$", re.I)
_OPTION = re.compile(r"^(?:option|opt)\s+(?P<k>[\w-]+)(?:\s+(?P<v>on|off|true|false|yes|no|enable|disable))?$", re.I)
_NAME = re.compile(r"^(?:name|method|method[_ ]name|call it)\s*[= ]\s*(?P<v>\S.*)$", re.I)
_FAMILY = re.compile(r"^family\s*[= ]\s*(?P<v>[\w-]+)$", re.I)
_ON = {"on", "true", "yes", "enable"}


@dataclass
class Feedback:
    params: list[tuple[str, str, str]] = field(default_factory=list)  # (name, raw value, the clause)
    options: list[tuple[str, bool, str]] = field(default_factory=list)
    name: str | None = None
    family: str | None = None
    other: list[str] = field(default_factory=list)  # clauses that are not structured edits


def clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[;\n]|,\s*", text or "") if c.strip()]


def parse(text: str) -> Feedback:
    fb = Feedback()
    for clause in clauses(text):
        if m := _OPTION.match(clause):
            fb.options.append((m["k"], (m["v"] or "on").lower() in _ON, clause))
        elif m := _FAMILY.match(clause):
            fb.family = m["v"].lower()
        elif m := _NAME.match(clause):
            fb.name = m["v"].strip().strip("'\"")
        elif m := (_SET.match(clause) or _PARAM.match(clause)):
            fb.params.append((m["k"], m["v"].strip().strip("'\""), clause))
        else:
            fb.other.append(clause)
    return fb


def _value(family: FamilySpec, name: str, raw: str) -> ParamValue:
    spec = family.parameters[name]
    if spec.type == "bool":
        low = raw.lower()
        if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise ValueError(f"{raw!r} is not a boolean (on/off)")
        return low in {"1", "true", "yes", "on"}
    return spec.parse(raw)


def apply(plan: Plan, family: FamilySpec, text: str) -> Plan:
    """The plan with the feedback's structured clauses applied; `review_notes` says what was and was not."""
    fb = parse(text)
    notes: list[str] = []
    hyper, inferred = dict(plan.hyperparameters), dict(plan.inferred)
    options = list(plan.options)
    update: dict[str, object] = {}
    if fb.family:
        if fb.family == family.id:
            notes.append(f"applied: family {family.id}")
        else:
            notes.append(f"not applied: family {fb.family!r} (no such family for this planner)")
    for name, raw, clause in fb.params:
        if name not in family.parameters:
            have = ", ".join(family.parameters) or "none"
            notes.append(f"not applied: '{clause}' ({family.id} has no parameter {name!r}; it has {have})")
            continue
        try:
            value = _value(family, name, raw)
        except ValueError as exc:
            notes.append(f"not applied: '{clause}' ({exc})")
            continue
        hyper[name] = value
        inferred[name] = f"reviewer feedback: '{clause}'"
        notes.append(f"applied: {name}={value}")
    for name, on, clause in fb.options:
        if name not in family.options:
            have = ", ".join(family.options) or "none"
            notes.append(f"not applied: '{clause}' ({family.id} has no option {name!r}; it has {have})")
            continue
        if on and name not in options:
            options.append(name)
        if not on and name in options:
            options.remove(name)
        inferred["options"] = f"reviewer feedback: '{clause}'"
        notes.append(f"applied: option {name} {'on' if on else 'off'}")
    if fb.name:
        update |= {
            "method_name": fb.name,
            "module_name": module_identifier(fb.name),
            "class_name": class_identifier(fb.name),
        }
        inferred["method_name"] = f"reviewer feedback: 'name {fb.name}'"
        notes.append(f"applied: name {fb.name}")
    for clause in fb.other:
        notes.append(f"not applied: '{clause}' (the offline planner reads only {GRAMMAR})")
    return plan.model_copy(
        update={
            **update,
            "hyperparameters": hyper,
            "options": [o for o in family.options if o in options],
            "inferred": inferred,
            "review_notes": notes,
        }
    )
