"""The method families: one folder per family under templates/, described by its family.yaml."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.models import ParamValue, TestSpec
from agent.settings import templates_dir

TEMPLATE_FILES = ("module.py.j2", "test_module.py.j2", "README.md.j2")


class ParamSpec(BaseModel):
    default: ParamValue
    type: str = Field(pattern="^(int|float|bool|str)$")
    min: float | None = None
    max: float | None = None
    description: str = ""
    patterns: list[str] = Field(
        default_factory=list,
        description="regexes with one group that extract the value from an abstract",
    )

    def parse(self, raw: str) -> ParamValue:
        """`raw` as this parameter's type; ValueError (saying why) when it is not one or is out of range."""
        value: ParamValue
        if self.type == "int":
            value = int(float(raw))
        elif self.type == "float":
            value = float(raw)
        elif self.type == "bool":
            value = raw.strip().lower() in {"1", "true", "yes"}
        else:
            value = raw
        if isinstance(value, int | float) and not isinstance(value, bool):
            low = -float("inf") if self.min is None else self.min
            high = float("inf") if self.max is None else self.max
            if not low <= value <= high:
                raise ValueError(f"{raw} is outside {low:g}..{high:g}")
        return value


class OptionSpec(BaseModel):
    description: str
    cues: list[str] = Field(default_factory=list, description="regexes; any match switches the option on")


class SlotSpec(BaseModel):
    description: str
    default: str = ""


class Cues(BaseModel):
    strong: list[str] = Field(default_factory=list)
    weak: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)


class FamilySpec(BaseModel):
    id: str
    name: str
    description: str
    class_suffix: str = ""
    default_method: str
    llm_only: bool = Field(default=False, description="only a model can fill it (generic); offline never picks it")
    cues: Cues
    parameters: dict[str, ParamSpec] = Field(default_factory=dict)
    options: dict[str, OptionSpec] = Field(default_factory=dict)
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    components: list[str] = Field(default_factory=list)
    tensor_shapes: dict[str, str] = Field(default_factory=dict)
    tests: list[TestSpec] = Field(default_factory=list)
    not_implemented: list[str] = Field(default_factory=list)
    path: Path | None = None

    def defaults(self) -> dict[str, ParamValue]:
        return {name: p.default for name, p in self.parameters.items()}


class FamilyError(ValueError):
    pass


def load_family(folder: Path) -> FamilySpec:
    spec_file = folder / "family.yaml"
    try:
        data = yaml.safe_load(spec_file.read_text())
        spec = FamilySpec.model_validate({**data, "path": folder})
    except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
        raise FamilyError(f"{spec_file}: {exc}") from exc
    if spec.id != folder.name:
        raise FamilyError(f"{spec_file}: id {spec.id!r} does not match its folder name {folder.name!r}")
    missing = [f for f in TEMPLATE_FILES if not (folder / f).is_file()]
    if missing:
        raise FamilyError(f"{folder}: missing template file(s) {', '.join(missing)}")
    return spec


@lru_cache(maxsize=4)
def _load_all(root: Path) -> dict[str, FamilySpec]:
    families = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and (p / "family.yaml").exists()):
        spec = load_family(folder)
        families[spec.id] = spec
    return families


def load_families(root: Path | None = None) -> dict[str, FamilySpec]:
    """All families under templates/, by id (the repo/ skeleton folder is not a family)."""
    return _load_all((root or templates_dir()).resolve())
