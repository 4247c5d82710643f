"""The HTTP API (FastAPI): routers per resource, errors as JSON with stable codes."""
