"""The workflow: the LangGraph graph, the composition root that builds its services, runs and reviews."""
