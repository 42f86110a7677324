"""Sandbox backends that run generated code: `process` (here) and `docker`."""

from agent.sandbox.base import Sandbox, SandboxError, get_sandbox

__all__ = ["Sandbox", "SandboxError", "get_sandbox"]
