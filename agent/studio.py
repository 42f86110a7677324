"""The graph for LangGraph Studio / `langgraph dev` (langgraph.json points here).

Compiled without a checkpointer (the platform brings its own); runs started without a context get
the composition root's studio services: offline planner, process sandbox, LIT2CODE_REPO.
"""

from agent.workflow.graph import build_graph
from agent.workflow.services import studio_services

graph = build_graph(default_services=studio_services).compile()
