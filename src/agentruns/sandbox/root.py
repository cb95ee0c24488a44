"""The workspace root: the directory that holds every run's workspace, where one is, and removing one."""

import os
import re
import shutil
import stat
from pathlib import Path

_RUN_ID = re.compile(r"run_[0-9a-z]{1,60}")


def is_workspace_name(name: str) -> bool:
    """Whether a directory name under the root is a run's workspace (named by its run id)."""
    return _RUN_ID.fullmatch(name) is not None


def workspace_path(root: str | Path, run_id: str) -> Path:
    """The host directory of a run's workspace; a relative root is taken from the working directory.

    Raises:
        ValueError: `run_id` is not a run id (it could otherwise name a path outside the root).
    """
    if not is_workspace_name(run_id):
        raise ValueError(f"{run_id!r} is not a run id")
    return Path(root).resolve() / run_id


def prepare_root(root: str | Path) -> Path:
    """Create the root if it is missing (others may pass through it, never list it); its resolved path."""
    path = Path(root).resolve()
    path.mkdir(mode=0o711, parents=True, exist_ok=True)
    return path


def remove(workspace: Path) -> None:
    """Delete a workspace and all it holds, also what its commands made unwritable; symlinks are never followed.

    Raises:
        OSError: Something in it could not be deleted even so.
    """
    if workspace.is_symlink() or not workspace.exists():
        return
    try:
        shutil.rmtree(workspace)
    except OSError:
        # A command may leave a directory without write or search permission (`chmod 000 dir`), which stops
        # a service that is not root from emptying it; the service owns it, so it may open it up again.
        _open_up(workspace)
        shutil.rmtree(workspace)


def _open_up(workspace: Path) -> None:
    """Give the owner full access to every directory of the workspace (never through a symlink)."""
    os.chmod(workspace, 0o700)
    for top, directories, _files in os.walk(workspace):
        for name in directories:
            path = os.path.join(top, name)
            if stat.S_ISDIR(os.lstat(path).st_mode):  # os.walk lists symlinks to directories here too
                os.chmod(path, 0o700)
