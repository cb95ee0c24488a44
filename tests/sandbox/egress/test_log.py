"""The log of a run's connections: each recorded once, bounded per run, and the rest counted."""

import asyncio

import pytest

from agentruns.sandbox.egress.log import Connection, ConnectionLog, network_not_recorded


def _connection(number: int) -> Connection:
    return Connection(host=f"host{number}.example", port=443, allowed=False, via="proxy", reason="not allowed")


def test_a_run_records_at_most_its_bound_and_counts_the_rest() -> None:
    log = ConnectionLog(max_recorded=3)
    for number in range(5):
        log.add(_connection(number))
    first = asyncio.run(log.take())
    assert [connection.host for connection in first.connections] == ["host0.example", "host1.example", "host2.example"]
    assert first.not_recorded == 2
    log.add(_connection(9))  # the bound is the run's, not the take's
    assert asyncio.run(log.take()).not_recorded == 1
    assert "1 more connection(s) not recorded" in network_not_recorded(1)


@pytest.mark.anyio
async def test_a_take_waits_for_the_connections_under_way() -> None:
    log = ConnectionLog()
    log.opened()
    asyncio.get_running_loop().call_soon(log.closed, _connection(1))
    assert [connection.host for connection in (await log.take()).connections] == ["host1.example"]


def test_a_connection_reads_as_a_log_line_and_an_event() -> None:
    allowed = Connection("pypi.org", 443, True, "proxy", "CONNECT", address="151.101.0.223", sent=517, received=6100)
    assert allowed.line() == "network proxy: CONNECT pypi.org:443 allowed via 151.101.0.223: 517 bytes up, 6100 down"
    refused = Connection("fd00::1", 80, False, "proxy", "GET", reason="a private or reserved address")
    assert refused.line() == "network proxy: GET [fd00::1]:80 refused: a private or reserved address"
    assert refused.as_event() == {
        "host": "fd00::1", "port": 80, "verdict": "refused", "reason": "a private or reserved address",
        "via": "proxy", "method": "GET", "address": None, "bytesUp": 0, "bytesDown": 0,
    }  # fmt: skip


def test_what_the_run_chose_is_recorded_cut() -> None:
    log = ConnectionLog()
    log.add(Connection(host="h" * 5000, port=80, allowed=False, via="proxy", method="M" * 100, reason="r" * 5000))
    (connection,) = asyncio.run(log.take()).connections
    assert (len(connection.host), len(connection.method), len(connection.reason or "")) == (300, 20, 300)
