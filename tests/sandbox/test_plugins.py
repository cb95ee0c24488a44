"""A provider installed as a package, through the `agentruns.sandboxes` entry point, is used by its name."""

from pathlib import Path

import pytest

from agentruns.sandbox.availability import make_sandbox
from agentruns.sandbox.errors import SandboxUnavailable
from agentruns.sandbox.plugins import ENTRY_POINT_GROUP, installed_providers
from tests.sandbox.conftest import LIMITS

pytestmark = pytest.mark.anyio


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plugin installed as a distribution (its .dist-info) on sys.path."""
    dist_info = tmp_path / "agentruns_example_sandbox-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: agentruns-example-sandbox\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nexample = tests.sandbox.plugin_example:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("installed_plugin")
async def test_an_installed_provider_is_made_by_name(workspace: Path) -> None:
    assert "example" in installed_providers()

    sandbox = make_sandbox(workspace, LIMITS, allow_unisolated=False, network=None, provider="example")
    await sandbox.start()

    assert sandbox.provider == "example"
    assert (await sandbox.run("echo from the plugin")).stdout == "from the plugin\n"
    await sandbox.stop()


def test_a_provider_that_is_not_installed_is_explained(workspace: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="no sandbox provider 'e2b' is installed"):
        make_sandbox(workspace, LIMITS, allow_unisolated=False, network=None, provider="e2b")
