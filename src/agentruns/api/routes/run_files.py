"""`/agent/v1/run/{id}/files`: list the files of a run's workspace and download one."""

import mimetypes
from collections.abc import AsyncIterator
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from agentruns.api.deps import CurrentOrg, DatabaseDep, SettingsDep
from agentruns.api.file_paths import CONVERTOR
from agentruns.api.openapi import CLIENT_ERRORS, CONFLICT, NOT_FOUND, UNREACHABLE
from agentruns.api.params import RunId
from agentruns.schemas.files import WorkspaceListing
from agentruns.services import run_files

router = APIRouter(prefix="/agent/v1/run", tags=["runs"], responses=CLIENT_ERRORS)

CHUNK_BYTES = 256 * 1024

FilePath = Annotated[
    str,
    PathParam(description="The file, relative to the workspace (`notes/todo.md`), or absolute under `/workspace`."),
]
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, as an attachment.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get("/{run_id}/files", responses=NOT_FOUND | CONFLICT | UNREACHABLE)
async def list_run_files(run_id: RunId, db: DatabaseDep, settings: SettingsDep, org: CurrentOrg) -> WorkspaceListing:
    """List the run's workspace: while it runs, and after it ends for `AGENTRUNS_WORKSPACE_KEEP_SECONDS`."""
    return await run_files.list_files(db, settings, org, run_id)


@router.get(
    f"/{{run_id}}/files/{{path:{CONVERTOR}}}",
    responses=DOWNLOAD | NOT_FOUND | CONFLICT | UNREACHABLE,
    response_class=StreamingResponse,
)
async def download_run_file(
    run_id: RunId, path: FilePath, db: DatabaseDep, settings: SettingsDep, org: CurrentOrg
) -> StreamingResponse:
    """Download a file of the run's workspace; paths that lead outside it (`..`, symlinks) are refused with 400."""
    file, size, name = await run_files.open_file(db, settings, org, run_id, path)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {
        "content-length": str(size),
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        # What the agent wrote is never run as a page of this origin.
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox",
    }
    return StreamingResponse(_chunks(file, size), media_type=media_type, headers=headers)


async def _chunks(file: BinaryIO, size: int) -> AsyncIterator[bytes]:
    """Exactly `size` bytes, what Content-Length promised: the file's first `size`, also if a command is still
    writing it, and zero bytes after its end if a command shrank it meanwhile (a response shorter than its
    Content-Length is a broken one, which clients see as a reset connection)."""
    try:
        left = size
        ended = False
        while left > 0:
            chunk = b"" if ended else await anyio.to_thread.run_sync(file.read, min(CHUNK_BYTES, left))
            if not chunk:
                ended = True
                chunk = bytes(min(CHUNK_BYTES, left))
            left -= len(chunk)
            yield chunk
    finally:
        file.close()
