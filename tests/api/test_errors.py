"""Every client mistake answers the error envelope with the contract's code, never a 500; a database unavailable for
a moment answers 503, to be sent again."""

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.databases import cut_connections, needs_postgresql
from tests.support.factories import error_of, make_agent


@pytest.mark.parametrize(
    "content",
    [b'{"name": "x",', b"not json", b"[1, 2]", b'"a string"', b"null", b"\xff\xfe", b"{}"],
)
def test_malformed_bodies_are_invalid_input(client: httpx.Client, content: bytes) -> None:
    response = client.post("/agent/v1/agents", content=content, headers={"content-type": "application/json"})
    error_of(response, 400, "INVALID_INPUT")


def test_malformed_json_says_so(client: httpx.Client) -> None:
    response = client.post("/agent/v1/run", content=b'{"agentId": ', headers={"content-type": "application/json"})
    assert "not valid JSON" in error_of(response, 400, "INVALID_INPUT")


def test_missing_body_says_so(client: httpx.Client) -> None:
    assert "JSON object body is required" in error_of(client.post("/agent/v1/run"), 400, "INVALID_INPUT")


def test_non_json_content_type_is_explained(client: httpx.Client) -> None:
    response = client.post("/agent/v1/agents", content=b'{"name": "x", "instructions": "y"}',
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert "Content-Type: application/json" in error_of(response, 400, "INVALID_INPUT")


def test_wrong_types_name_the_field(client: httpx.Client) -> None:
    response = client.post("/agent/v1/agents", json={"name": ["x"], "instructions": {"a": 1}})
    message = error_of(response, 400, "INVALID_INPUT")
    assert "body.name" in message and "body.instructions" in message


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    body = {"name": "x", "instructions": "y" * (1024 * 1024 + 1)}
    error_of(client.post("/agent/v1/agents", json=body), 413, "INVALID_INPUT")
    assert client.get("/agent/v1/agents").json()["agents"] == []


def test_streamed_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks():  # no Content-Length: the limit is counted as the body arrives
        yield b'{"name": "x", "instructions": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}'

    response = client.post("/agent/v1/agents", content=chunks(), headers={"content-type": "application/json"})
    error_of(response, 413, "INVALID_INPUT")


def test_body_just_under_the_limit_is_accepted(client: httpx.Client) -> None:
    instructions = "y" * (1024 * 1024 - 100)
    assert make_agent(client, instructions=instructions)["instructions"] == instructions


def test_nul_characters_are_refused_everywhere(client: httpx.Client) -> None:
    agent = make_agent(client)
    error_of(client.post("/agent/v1/agents", json={"name": "a\x00b", "instructions": "x"}), 400, "INVALID_INPUT")
    error_of(client.post("/agent/v1/run", json={"agentId": agent["id"], "prompt": "x",
                                                 "objectIds": ["o\x00"]}), 400, "INVALID_INPUT")  # fmt: skip
    error_of(client.get("/agent/v1/agents/agent_%00"), 400, "INVALID_INPUT")
    error_of(client.get("/agent/v1/run", params={"cursor": "run_\x00"}), 400, "INVALID_INPUT")
    assert client.get("/agent/v1/run").json()["runs"] == []


def test_missing_key_is_401(anonymous: httpx.Client) -> None:
    response = anonymous.get("/agent/v1/agents")
    assert "Authorization: Bearer" in error_of(response, 401, "AUTHORIZATION_ERROR")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header", ["Bearer wrong", "Bearer", "Bearer  ar_x y", "Basic dXNlcjpwYXNz", "ar_token-without-scheme"]
)
def test_wrong_key_is_401(anonymous: httpx.Client, header: str) -> None:
    error_of(anonymous.get("/agent/v1/agents", headers={"Authorization": header}), 401, "AUTHORIZATION_ERROR")


def test_authentication_comes_before_validation(anonymous: httpx.Client) -> None:
    response = anonymous.post("/agent/v1/agents", content=b"{", headers={"content-type": "application/json"})
    error_of(response, 401, "AUTHORIZATION_ERROR")


def test_unknown_route_and_method(client: httpx.Client) -> None:
    error_of(client.get("/agent/v1/nothing"), 404, "RESOURCE_NOT_FOUND")
    error_of(client.put("/agent/v1/agents"), 405, "INVALID_INPUT")


def test_a_client_that_leaves_mid_body_gets_no_500(base_url: str, api_key: str, client: httpx.Client) -> None:
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port)) as raw:
        raw.sendall(
            b"POST /agent/v1/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {api_key}\r\n".encode()
            + b"Content-Length: 5\r\nConnection: close\r\n\r\n{}"
        )
        raw.shutdown(socket.SHUT_WR)
        status_line = raw.makefile("rb").readline()
    assert status_line == b"" or not status_line.split()[1].startswith(b"5"), status_line
    assert client.get("/agent/v1/agents").json()["agents"] == []


@needs_postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_request_on_a_dropped_database_connection_is_503_and_can_be_sent_again(
    fresh: tuple[str, httpx.Client],
) -> None:
    # The API's pool does not ping a connection before each use (a round trip each): the first statement on one the
    # server dropped fails its request, and the pool replaces its connections.
    url, client = fresh
    agent = make_agent(client)["id"]
    cut = cut_connections(url)
    failed = client.get(f"/agent/v1/agents/{agent}")
    again = client.get(f"/agent/v1/agents/{agent}")
    assert cut >= 1
    assert error_of(failed, 503, "INTERNAL_ERROR") == "the database is unavailable for a moment; send the request again"
    assert failed.headers["retry-after"] == "1"
    assert (again.status_code, again.json()["id"]) == (200, agent)
