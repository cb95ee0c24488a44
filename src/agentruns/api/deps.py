"""FastAPI dependencies as `Annotated` aliases: the database, the settings and the caller's organization."""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agentruns.engine.client import EngineClient
from agentruns.errors import Unauthorized
from agentruns.settings import Settings
from agentruns.storage.database import Database

# Authentication itself happens in `middleware.Authenticate`; this scheme documents it in OpenAPI.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


def _database(request: Request) -> Database:
    return request.app.state.db


def _engine(request: Request) -> EngineClient:
    return request.app.state.engine


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _current_org(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> str:
    org_id: str | None = getattr(request.state, "org_id", None)
    if org_id is None:
        raise Unauthorized("missing API key: send the header `Authorization: Bearer <key>`")
    return org_id


DatabaseDep = Annotated[Database, Depends(_database)]
EngineDep = Annotated[EngineClient, Depends(_engine)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CurrentOrg = Annotated[str, Depends(_current_org)]
