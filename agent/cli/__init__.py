"""The `lit2code` command line: thin commands over the workflow's services.

Each module registers its commands on the one Typer `app`; importing this package assembles them.
"""

from agent.cli import github, runs, tools  # noqa: F401 - registers their commands
from agent.cli.common import app
from agent.cli.llm import llm_app
from agent.cli.sandbox import sandbox_app

app.add_typer(sandbox_app, name="sandbox")
app.add_typer(llm_app, name="llm")

__all__ = ["app"]
