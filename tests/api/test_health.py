"""`GET /health`."""

import httpx

from agentruns import __version__


def test_health_needs_no_key_and_names_the_database(anonymous: httpx.Client, backend: str) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "database": backend}
