"""Threads acting as a jail's host user: its credentials, no groups, no capabilities (but one for measuring)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentruns.sandbox import jail_user
from tests.support.workspaces import reachable_directory

NOBODY = (65534, 65534)
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user takes a service run as root"),
]


def _credentials() -> dict[str, str]:
    with open("/proc/thread-self/status") as status:
        fields = dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
    return {name: fields[name].strip() for name in ("Uid", "Gid", "Groups", "CapEff", "CapPrm")}


def _read(path: Path) -> str:
    return path.read_text()


@pytest.fixture
def directory() -> Iterator[Path]:
    """A directory anyone may pass through and list (pytest's tmp_path is under one only root may)."""
    with reachable_directory() as base:
        base.chmod(0o755)
        yield base


@pytest.fixture
def closed_file(directory: Path) -> Path:
    """A file only root may read, in a directory anyone may read."""
    path = directory / "root-only.txt"
    path.write_text("secret")
    path.chmod(0o600)
    return path


async def test_a_call_runs_with_the_users_credentials_and_no_capabilities(closed_file: Path) -> None:
    seen = await jail_user.call(NOBODY, _credentials)

    assert seen == {"Uid": "65534\t65534\t65534\t65534", "Gid": "65534\t65534\t65534\t65534", "Groups": "",
                    "CapEff": "0000000000000000", "CapPrm": "0000000000000000"}  # fmt: skip
    with pytest.raises(PermissionError):
        await jail_user.call(NOBODY, _read, closed_file)
    closed_file.chmod(0o644)
    assert await jail_user.call(NOBODY, _read, closed_file) == "secret"  # refused by its mode, not by the way there
    assert _credentials()["Uid"].startswith("0\t")  # the service's own thread is still root
    assert _read(closed_file) == "secret"


async def test_a_directory_reading_call_keeps_only_the_capability_to_list_directories(directory: Path) -> None:
    closed = directory / "closed"
    closed.mkdir()
    (closed / "inside.txt").write_text("x")
    closed.chmod(0)

    seen = await jail_user.call_reading_directories(NOBODY, _credentials)
    listed = await jail_user.call_reading_directories(NOBODY, os.listdir, closed)

    only_dac_read_search = "0" * 15 + "4"
    assert (seen["Uid"], seen["CapEff"], seen["CapPrm"]) == ("65534\t65534\t65534\t65534", *[only_dac_read_search] * 2)
    assert listed == ["inside.txt"]
    with pytest.raises(PermissionError):
        await jail_user.call(NOBODY, os.listdir, closed)
    assert await jail_user.call(NOBODY, os.listdir, directory) == ["closed"]


async def test_the_service_s_own_user_needs_no_threads_of_its_own() -> None:
    assert jail_user.needs_own_threads(NOBODY)
    assert not jail_user.needs_own_threads(None)
    assert not jail_user.needs_own_threads((0, 0))
    assert (await jail_user.call((0, 0), _credentials))["CapEff"] != "0000000000000000"
