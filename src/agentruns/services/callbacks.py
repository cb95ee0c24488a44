"""Check a callback URL before it is stored: the same SSRF guard every delivery applies (`events.targets`)."""

from agentruns.errors import InvalidInput
from agentruns.events.targets import RefusedTarget, check


async def checked_callback_url(url: str, *, allow_private: bool) -> str:
    """The URL, if agentruns may call it; `InvalidInput` saying why not otherwise. A host that does not resolve
    now passes (DNS can fail for a moment): each delivery resolves and checks it again."""
    try:
        await check(url, allow_private=allow_private, must_resolve=False)
    except RefusedTarget as exc:
        raise InvalidInput(f"callbackUrl is refused: {exc}") from None
    return url
