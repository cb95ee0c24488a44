"""`/agent/v1/webhooks`: the organization's webhook signing secret."""

from fastapi import APIRouter

from agentruns.api.deps import CurrentOrg, DatabaseDep, SecretBoxDep
from agentruns.api.openapi import CLIENT_ERRORS
from agentruns.schemas.webhooks import SigningSecret
from agentruns.services import webhooks

router = APIRouter(prefix="/agent/v1/webhooks", tags=["webhooks"], responses=CLIENT_ERRORS)


@router.get("/secret")
async def signing_secret(db: DatabaseDep, box: SecretBoxDep, org: CurrentOrg) -> SigningSecret:
    """The secret that signs the organization's webhooks (Standard Webhooks, `whsec_…`); created on first use."""
    return await webhooks.signing_secret(db, box, org)


@router.post("/secret")
async def rotate_signing_secret(db: DatabaseDep, box: SecretBoxDep, org: CurrentOrg) -> SigningSecret:
    """Replace the signing secret; the old one keeps signing beside the new one for 24 hours."""
    return await webhooks.rotate_secret(db, box, org)
