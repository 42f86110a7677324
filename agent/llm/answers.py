"""What the model must answer: pydantic models, sent as JSON schemas and enforced on every answer.

Limits live here (sizes, identifier patterns, file paths), so a hostile or broken answer fails
validation, gets one corrective retry, and then ends as that paper's clear failure.
"""

from __future__ import annotations

import keyword
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

MODULE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
CLASS_PATTERN = r"^[A-Z][A-Za-z0-9]{0,47}$"
RESERVED_MODULES = {"torch", "test", "math", "typing", "papers", "conftest", "numpy", "pytest"}
MAX_SLOT_CHARS = 4_000
MAX_FILE_CHARS = 60_000


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value.strip()


class TriageAnswerBase(BaseModel):
    implementable: bool = Field(description="does the abstract propose a method that can be implemented as code?")
    family: str = Field(description="the method family id, 'generic' when none fits, or 'skip'")
    method_name: str = Field(max_length=60, description="the paper's own name or acronym for its method, or ''")
    reason: str = Field(max_length=600, description="one or two sentences: why this family or why skip")

    @field_validator("method_name")
    @classmethod
    def _single_line(cls, v: str) -> str:
        return _one_line(v)


def triage_schema(family_ids: list[str]) -> type[TriageAnswerBase]:
    """The triage answer with `family` restricted to the known ids (an enum in the JSON schema)."""
    choices = tuple(sorted(family_ids)) + ("generic", "skip")
    family: Any = Literal[choices]  # a Literal of the ids loaded at run time: no static type can name it
    return create_model(
        "TriageAnswer",
        __base__=TriageAnswerBase,
        family=(family, Field(description="a family id, 'generic' when none fits, or 'skip'")),
    )


class Setting(BaseModel):
    name: str = Field(max_length=64, description="a parameter name from the family's list")
    value: str = Field(max_length=64, description="its value, e.g. '8' or '0.07' or 'true'")
    evidence: str = Field(max_length=300, description="the abstract's words that state it, quoted")


class SlotCode(BaseModel):
    name: str = Field(max_length=64, description="a slot name from the family's list")
    code: str = Field(max_length=MAX_SLOT_CHARS, description="Python code for that slot, at its position")


class PlanCore(BaseModel):
    method_name: str = Field(min_length=1, max_length=60)
    module_name: str = Field(pattern=MODULE_PATTERN, description="snake_case module name from the method name")
    class_name: str = Field(pattern=CLASS_PATTERN, description="CamelCase main class name")
    summary: str = Field(max_length=1500, description="what the paper proposes, in two or three sentences")
    components: list[str] = Field(max_length=12, description="the parts implemented")
    not_implemented: list[str] = Field(max_length=12, description="what the module deliberately leaves out")
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("method_name")
    @classmethod
    def _single_line(cls, v: str) -> str:
        return _one_line(v)

    @field_validator("module_name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if keyword.iskeyword(v) or v in RESERVED_MODULES or v.startswith("test"):
            raise ValueError(f"{v!r} would shadow a Python or test module; pick another module name")
        return v

    @field_validator("components", "not_implemented")
    @classmethod
    def _short_items(cls, v: list[str]) -> list[str]:
        return [item.strip()[:300] for item in v if item.strip()]


class PlanAnswer(PlanCore):
    """A plan inside a family template: parameters, options and code slots."""

    hyperparameters: list[Setting] = Field(max_length=30)
    options: list[str] = Field(max_length=10, description="option names to switch on")
    slots: list[SlotCode] = Field(max_length=10, description="slots to change; omit a slot to keep its default")


class FileCode(BaseModel):
    path: str = Field(max_length=80, description="MODULE.py or test_MODULE.py, no folders")
    content: str = Field(max_length=MAX_FILE_CHARS)

    @field_validator("path")
    @classmethod
    def _safe_path(cls, v: str) -> str:
        if v.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", v):
            raise ValueError(f"absolute path {v!r}: files go inside the paper's package, name them bare")
        if ".." in v or "/" in v or "\\" in v:
            raise ValueError(f"path {v!r} leaves or nests inside the package: give a bare file name")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", v):
            raise ValueError(f"path {v!r} is not a Python module file name")
        return v


class GenericPlanAnswer(PlanCore):
    """A paper no family fits: the model writes the module and its tests inside lit2code's scaffold."""

    files: list[FileCode] = Field(min_length=2, max_length=2, description="exactly MODULE.py and test_MODULE.py")

    @model_validator(mode="after")
    def _files_match_module(self) -> GenericPlanAnswer:
        want = {f"{self.module_name}.py", f"test_{self.module_name}.py"}
        got = {f.path for f in self.files}
        if got != want:
            raise ValueError(f"files must be exactly {sorted(want)}, got {sorted(got)}")
        return self


class RepairAnswer(BaseModel):
    diagnosis: str = Field(max_length=1000, description="what the failure shows is wrong")
    slots: list[SlotCode] = Field(max_length=10, description="the slots rewritten to fix it")


class GenericRepairAnswer(BaseModel):
    diagnosis: str = Field(max_length=1000)
    files: list[FileCode] = Field(min_length=1, max_length=2, description="the files rewritten to fix it")


class ProbeAnswer(BaseModel):
    """The doctor's tiny structured-output request."""

    ok: bool
    word: str = Field(max_length=16)
