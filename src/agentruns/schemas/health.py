"""The health answer."""

from typing import Literal

from agentruns.schemas.base import ResponseModel


class Health(ResponseModel):
    """The service is up and its database answers."""

    status: Literal["ok"] = "ok"
    version: str
    database: Literal["sqlite", "postgresql"]
