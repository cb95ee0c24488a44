"""Path and query parameters shared by the routers, with their documentation and bounds."""

from typing import Annotated

from fastapi import Path, Query

from agentruns.schemas.base import NO_NUL_PATTERN
from agentruns.schemas.catalog import PAGE_LIMIT_MAX, PAGE_LIMIT_MIN

AgentId = Annotated[str, Path(pattern=NO_NUL_PATTERN, description="The agent's id (`agent_…`).")]
RunId = Annotated[str, Path(pattern=NO_NUL_PATTERN, description="The run's id (`run_…`).")]
Cursor = Annotated[
    str | None,
    Query(pattern=NO_NUL_PATTERN, description="`nextCursor` of the previous page: objects created before it."),
]
Limit = Annotated[int, Query(ge=PAGE_LIMIT_MIN, le=PAGE_LIMIT_MAX, description="Page size.")]
