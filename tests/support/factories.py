"""Create objects through the HTTP API, asserting each call succeeds."""

from typing import Any

import httpx


def make_agent(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """Create an agent; `fields` override the defaults."""
    body = {"name": "helper", "instructions": "Help.", "model": "offline/scripted"} | fields
    response = client.post("/agent/v1/agents", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def make_run(client: httpx.Client, agent_id: str, **fields: Any) -> dict[str, Any]:
    """Create a queued run of an agent."""
    response = client.post("/agent/v1/run", json={"agentId": agent_id, "prompt": "Do it."} | fields)
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Assert the response is the error envelope with this status and code; return its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error["message"]
