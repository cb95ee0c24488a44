"""Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`), by the
`standardwebhooks` package. While a rotated secret is still valid, each webhook carries one signature per
valid secret, so receivers can switch secrets without missing a webhook."""

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the marker of a secret's format, not a secret


def new_secret() -> str:
    """A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks writes them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signed_headers(message_id: str, body: str, valid_secrets: Sequence[str], at: datetime) -> dict[str, str]:
    """The three headers of a webhook sent at `at`, signed with each of the secrets."""
    signatures = " ".join(Webhook(secret).sign(message_id, at, body) for secret in valid_secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
