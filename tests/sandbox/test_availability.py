"""bubblewrap is checked at start, and the unisolated sandbox is used only when it is explicitly allowed."""

import logging
from pathlib import Path

import pytest

from agentruns.sandbox import availability
from agentruns.sandbox.availability import check_bubblewrap, make_sandbox, usable_provider
from agentruns.sandbox.bubblewrap import BubblewrapSandbox
from agentruns.sandbox.errors import SandboxUnavailable
from agentruns.sandbox.unisolated import SubprocessSandbox
from tests.sandbox.conftest import LIMITS


@pytest.fixture
def without_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH on which there is no bwrap (and no remembered answer from before)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(availability, "_checked", {})


def test_bubblewrap_works_on_this_machine(workspace: Path) -> None:
    assert check_bubblewrap() is None
    assert isinstance(make_sandbox(workspace, LIMITS, allow_unisolated=False, network=None), BubblewrapSandbox)


@pytest.mark.usefixtures("without_bwrap")
def test_a_missing_bubblewrap_is_explained() -> None:
    problem = check_bubblewrap()

    assert problem is not None
    assert "apt-get install bubblewrap" in problem


def test_a_bwrap_path_that_names_no_executable_is_explained(workspace: Path) -> None:
    problem = check_bubblewrap("/nonexistent/bwrap")

    assert problem is not None
    assert "'/nonexistent/bwrap', from AGENTRUNS_BWRAP_PATH" in problem
    with pytest.raises(SandboxUnavailable, match="AGENTRUNS_BWRAP_PATH"):
        make_sandbox(workspace, LIMITS, allow_unisolated=False, network=None, bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="AGENTRUNS_ALLOW_UNISOLATED_SANDBOX=true"):
        usable_provider(allow_unisolated=False, bwrap="/nonexistent/bwrap")
    assert usable_provider(allow_unisolated=False, bwrap="/usr/bin/bwrap") == "bubblewrap"


@pytest.mark.usefixtures("without_bwrap")
def test_no_sandbox_without_bubblewrap_unless_allowed(workspace: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SandboxUnavailable, match="AGENTRUNS_ALLOW_UNISOLATED_SANDBOX=true"):
        make_sandbox(workspace, LIMITS, allow_unisolated=False, network=None)

    with caplog.at_level(logging.WARNING):
        sandbox = make_sandbox(workspace, LIMITS, allow_unisolated=True, network=None)

    assert isinstance(sandbox, SubprocessSandbox)
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "UNISOLATED SANDBOX" in caplog.text
    assert "apt-get install bubblewrap" in caplog.text
