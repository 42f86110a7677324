"""Python identifiers from a method's name: what every planner's module and class names go through."""

from __future__ import annotations

import keyword
import re

# Module names that would shadow what generated packages and their tests import.
RESERVED_MODULES = {"torch", "test", "math", "typing", "papers", "conftest"}


def class_identifier(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    ident = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not ident or ident[0].isdigit():
        ident = "M" + ident
    return ident


def module_identifier(name: str) -> str:
    snake = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "method"
    if snake[0].isdigit():
        snake = "m_" + snake
    if keyword.iskeyword(snake) or snake in RESERVED_MODULES:
        snake += "_method"
    return snake
