"""Directories for workspaces that a sandbox's host user (`nobody` when the tests run as root) can reach."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def reachable_directory(prefix: str = "agentruns-test-") -> Iterator[Path]:
    """A new directory others may pass through, removed at the end.

    pytest's own tmp_path is under a 0700 directory of root, which bubblewrap running as `nobody` cannot
    pass through, so workspaces of the tests live in directories of their own.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o711)  # noqa: S103 - the sandbox's host user must pass through it
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def hand_over(workspace: Path) -> None:
    """Give what a test put in a workspace to the sandbox's host user (`nobody` when the tests run as root), as if
    the run's own commands had made it: the service acts on a workspace as that user, never as root."""
    if os.geteuid() != 0 or not workspace.exists():
        return
    for path in (workspace, *workspace.rglob("*")):
        os.chown(path, 65534, 65534, follow_symlinks=False)
