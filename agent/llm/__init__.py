"""Model access for the llm planner: settings, the OpenAI-compatible client, prices, cache and budget."""
