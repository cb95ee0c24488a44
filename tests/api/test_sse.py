"""The event stream response: it ends when the client leaves, and its run's feed with it."""

import time

import httpx

from agentruns.events import feed
from tests.support.factories import make_agent, make_run
from tests.support.sse import frames

WAIT = 30
"""How long the test waits, at most, for the server to notice (a loaded machine is slow, never this slow)."""


def test_a_client_that_leaves_a_quiet_run_ends_its_stream_and_the_runs_feed(client: httpx.Client) -> None:
    # The test's server runs in this process: its feeds are this module's.
    run_id = make_run(client, make_agent(client)["id"])["id"]  # queued: nothing more will be appended

    def feeds_of_the_run() -> int:
        return sum(1 for key in list(feed._feeds) if key[2] == run_id)

    with client.stream("GET", f"/agent/v1/run/{run_id}/events") as response:
        assert response.headers["cache-control"] == "no-store"
        # Held until the block ends: a dropped frame iterator closes httpx's stream, and with it the connection.
        received = frames(response)
        first = next(received)
        assert (first.id, first.event) == (1, "run.status")
        assert feeds_of_the_run() == 1
    deadline = time.monotonic() + WAIT
    while feeds_of_the_run() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feeds_of_the_run() == 0, "the stream kept following a run nobody watches"
