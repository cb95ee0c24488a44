"""`webfetch`: fetch a public web page, when the deployment lets runs use the network."""

import httpx
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from agentruns.agent.deps import RunDeps
from agentruns.agent.tools.output import capped
from agentruns.events import targets

TIMEOUT_SECONDS = 30.0


async def webfetch(ctx: RunContext[RunDeps], url: str) -> str:
    """Fetch a URL over HTTPS and return its text.

    Args:
        url: The https:// address to fetch.
    """
    if not ctx.deps.settings.sandbox_network:
        raise ToolFailed(
            "webfetch is off: this deployment gives runs no network access (AGENTRUNS_SANDBOX_NETWORK is false)"
        )
    # The same guard as webhooks: an agent must not reach the worker's own network (cloud metadata,
    # databases, admin ports) through this tool, whatever the name resolves to.
    try:
        target = await targets.check(url, allow_private=False)
    except targets.RefusedTarget as exc:
        raise ToolFailed(f"webfetch refuses {url}: {exc}") from None
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
        for address in target.addresses:  # connect only to an address the check allowed
            request = client.build_request(
                "GET",
                target.url.copy_with(host=address),
                headers={"Host": target.url.netloc.decode("ascii")},
                extensions={"sni_hostname": target.host},
            )
            try:
                response = await client.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
            except httpx.HTTPError as exc:
                raise ToolFailed(f"could not fetch {url}: {type(exc).__name__}: {exc}") from None
            if response.is_redirect:
                return (
                    f"HTTP {response.status_code}: a redirect to {response.headers.get('location', '?')} (not followed)"
                )
            return capped(f"HTTP {response.status_code}\n{response.text}")
    raise ToolFailed(f"could not connect to any address of {target.host}")
