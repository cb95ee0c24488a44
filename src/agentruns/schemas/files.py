"""The files of a run's workspace: the listing answer of `GET /agent/v1/run/{id}/files`."""

from typing import Literal

from agentruns.schemas.base import ResponseModel, Timestamp


class WorkspaceEntry(ResponseModel):
    """One entry of the workspace; symlinks are listed, never followed."""

    path: str
    """Relative to `/workspace`, with `/` between directories."""
    type: Literal["file", "directory", "symlink", "other"]
    size: int
    """In bytes, for files; 0 for the others."""
    modified_at: Timestamp


class WorkspaceListing(ResponseModel):
    """What the run's workspace holds, in path order."""

    run_id: str
    runtime_state: Literal["running", "stopped", "archived", "ended", "error"] | None
    expires_at: Timestamp | None
    """When a worker deletes the workspace of the finished run; null while the run is active."""
    entries: list[WorkspaceEntry]
    truncated: bool
    """Whether the workspace has more entries than the listing's limit; the shallowest are listed first."""
    skipped_names: int = 0
    """Entries left out because their names are not UTF-8 (what is below such a directory is not listed either):
    no path of the API could name them. A command of the run can rename them."""
