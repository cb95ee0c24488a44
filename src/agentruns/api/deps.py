"""FastAPI dependencies as `Annotated` aliases: the database, the settings, the secrets key and the caller's
organization."""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agentruns.engine.client import EngineClient
from agentruns.errors import Unauthorized
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.secret_box import SecretBox

# Authentication itself happens in `middleware.Authenticate`; this scheme documents it in OpenAPI.
# The dependencies are `async def` though none awaits: FastAPI runs a plain `def` dependency in its thread pool, a
# hop to a thread and back for each dependency of each request.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


async def _database(request: Request) -> Database:
    return request.app.state.db


async def _engine(request: Request) -> EngineClient:
    return request.app.state.engine


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _secret_box(request: Request) -> SecretBox:
    return request.app.state.secret_box


async def _current_org(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> str:
    org_id: str | None = getattr(request.state, "org_id", None)
    if org_id is None:
        raise Unauthorized("missing API key: send the header `Authorization: Bearer <key>`")
    return org_id


DatabaseDep = Annotated[Database, Depends(_database)]
EngineDep = Annotated[EngineClient, Depends(_engine)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SecretBoxDep = Annotated[SecretBox, Depends(_secret_box)]
CurrentOrg = Annotated[str, Depends(_current_org)]
