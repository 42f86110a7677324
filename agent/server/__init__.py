"""`lit2code serve`: the webhook server (Starlette on uvicorn) in front of the durable job queue."""
