"""The HTTP API: FastAPI application, middleware, problems and routes."""
