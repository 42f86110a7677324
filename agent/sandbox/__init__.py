"""Sandbox backends that run generated code, chosen by name from `agent.registry.SANDBOXES`."""

from __future__ import annotations

from agent.registry import SANDBOXES, load
from agent.sandbox.base import Sandbox, SandboxError

__all__ = ["Sandbox", "SandboxError", "get_sandbox", "select_backend"]


def get_sandbox(name: str) -> Sandbox:
    """A backend by its registry name."""
    return _backend_class(name)()


def _backend_class(name: str) -> type[Sandbox]:
    if name not in SANDBOXES:
        raise SandboxError(f"unknown sandbox backend {name!r}; use one of {', '.join(SANDBOXES)}")
    try:
        cls: type[Sandbox] = load(SANDBOXES[name].factory)
    except ImportError as exc:
        raise SandboxError(f"the {name} sandbox backend is not installed: {exc}") from exc
    return cls


def select_backend(choice: str, model_code: bool) -> tuple[str, str | None]:
    """`auto` -> the first registered backend that is available here and fit for the code; a named
    backend is taken as given. Returns (name, a note for the user when auto had to settle for less).

    Model-written code needs an isolating backend; auto never falls back to one that is not.
    """
    if choice != "auto":
        _backend_class(choice)
        return choice, None
    missing: list[str] = []
    for name, entry in SANDBOXES.items():
        if model_code and not entry.isolates:
            continue
        try:
            ready, why = _backend_class(name).available()
        except SandboxError as exc:
            ready, why = False, str(exc)
        if ready:
            note = f"{'; '.join(missing)}; using the {name} backend" if missing else None
            return name, note
        missing.append(f"{name} not ready ({why})")
    raise SandboxError(
        "model-written code runs only in an isolating sandbox, and none is ready: "
        + "; ".join(missing)
        + "; fix that (`lit2code sandbox doctor`) or pass --sandbox process explicitly"
    )
