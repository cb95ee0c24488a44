"""Repeated `Authorization` headers, through the real HTTP server: the last one is the one taken."""

import httpx


def _agents(base_url: str, *values: str) -> httpx.Response:
    return httpx.get(f"{base_url}/agent/v1/agents", headers=[("Authorization", value) for value in values], timeout=30)


def test_of_two_authorization_headers_the_last_is_taken(base_url: str, api_key: str) -> None:
    answer = _agents(base_url, "Bearer ar_not-a-key", f"Bearer {api_key}")
    assert answer.status_code == 200, answer.text
    refused = _agents(base_url, f"Bearer {api_key}", "Bearer ar_not-a-key")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "AUTHORIZATION_ERROR"
    assert _agents(base_url, "Basic dXNlcjpwYXNz", f"Bearer {api_key}").status_code == 200


def test_headers_a_proxy_folded_into_one_give_the_last_key(base_url: str, api_key: str) -> None:
    assert _agents(base_url, f"Bearer ar_not-a-key, Bearer {api_key}").status_code == 200
    assert _agents(base_url, f"Bearer {api_key}, Bearer ar_not-a-key").status_code == 401
    assert _agents(base_url, f"Bearer {api_key},").status_code == 401  # an empty last value is no key
