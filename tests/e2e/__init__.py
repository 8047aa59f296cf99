"""End-to-end tests against a real uvicorn process."""
