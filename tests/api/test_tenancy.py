"""Another organization's objects are not found on any endpoint, and never listed."""

import httpx

from tests.conftest import new_key
from tests.support.factories import error_of, make_agent, make_run
from tests.support.portal import AsyncBridge


def test_every_endpoint_hides_another_organizations_objects(
    client: httpx.Client, base_url: str, bridge: AsyncBridge
) -> None:
    agent = make_agent(client)
    run = make_run(client, agent["id"])
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {new_key(bridge)}"}) as stranger:
        a, r = agent["id"], run["id"]
        for method, path, body in [
            ("GET", f"/agent/v1/agents/{a}", None),
            ("PATCH", f"/agent/v1/agents/{a}", {"name": "stolen"}),
            ("DELETE", f"/agent/v1/agents/{a}", None),
            ("POST", "/agent/v1/run", {"agentId": a, "prompt": "x"}),
            ("GET", f"/agent/v1/run/{r}", None),
            ("GET", f"/agent/v1/run/{r}/details", None),
            ("GET", f"/agent/v1/run/{r}/status", None),
            ("POST", f"/agent/v1/run/{r}/exec", None),
            ("POST", f"/agent/v1/run/{r}/cancel", None),
            ("POST", f"/agent/v1/run/{r}/input", {"answer": "yes"}),
            ("POST", f"/agent/v1/run/{r}/watch", {"callbackUrl": "https://example.com/hook"}),
            ("GET", f"/agent/v1/run/{r}/events", None),
            ("GET", f"/agent/v1/run/{r}/webhooks", None),
        ]:
            response = stranger.request(method, path, json=body)
            error_of(response, 404, "RESOURCE_NOT_FOUND")
        assert stranger.get("/agent/v1/agents").json()["agents"] == []
        assert stranger.get("/agent/v1/run").json()["runs"] == []
        assert stranger.get("/agent/v1/run", params={"agentId": a}).json()["runs"] == []
        assert stranger.get("/agent/v1/run", params={"parentRunId": r}).json()["runs"] == []
        error_of(stranger.get("/agent/v1/run", params={"cursor": r}), 404, "RESOURCE_NOT_FOUND")
        error_of(stranger.get("/agent/v1/agents", params={"cursor": a}), 404, "RESOURCE_NOT_FOUND")
    assert client.get(f"/agent/v1/agents/{agent['id']}").json() == agent
