"""Fixtures: the client SDK against the real server of the session's database."""

from collections.abc import Iterator

import pytest

from agentruns.client import Client


@pytest.fixture
def sdk(base_url: str, api_key: str) -> Iterator[Client]:
    """A client authenticated as a fresh organization."""
    with Client(base_url, api_key) as client:
        yield client
