"""`webfetch`: fetch a public web page, by the run's network policy, when the deployment gives runs a network."""

import httpx
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from agentruns.agent.deps import RunDeps
from agentruns.agent.tools.output import capped
from agentruns.events import targets
from agentruns.sandbox.egress.log import Connection

TIMEOUT_SECONDS = 30.0
MAX_BYTES = 4 * 1024 * 1024


async def webfetch(ctx: RunContext[RunDeps], url: str) -> str:
    """Fetch a URL over HTTPS and return its text.

    Args:
        url: The https:// address to fetch.
    """
    network = ctx.deps.network
    if network is None:
        raise ToolFailed(
            "webfetch is off: this deployment gives runs no network access (AGENTRUNS_SANDBOX_NETWORK is off)"
        )
    try:
        parsed = targets.parse(url, allow_private=False)
    except targets.RefusedTarget as exc:
        raise ToolFailed(f"webfetch refuses {url}: {exc}") from None
    # The same policy as the sandbox's egress proxy: the run's allowlist, then every address the name resolves to
    # must be public, and the connection goes to one of those (pinned), so that an agent cannot reach the worker's
    # own network (cloud metadata, databases, admin ports) through this tool.
    verdict = await network.policy.decide(parsed.raw_host.decode("ascii"), parsed.port or 443)
    if not verdict.allowed:
        network.log.add(Connection(verdict.host, verdict.port, False, "webfetch", "GET", reason=verdict.reason))
        raise ToolFailed(f"webfetch refuses {url}: {verdict.host}: {verdict.reason}")
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
        failure = "no address to connect to"
        for address in verdict.addresses:  # connect only to an address the policy checked
            request = client.build_request(
                "GET",
                parsed.copy_with(host=address, port=verdict.connect_port),
                headers={"Host": parsed.netloc.decode("ascii")},
                extensions={"sni_hostname": verdict.host},
            )
            try:
                response = await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = f"could not connect to {address}: {exc or type(exc).__name__}"
                continue
            except httpx.HTTPError as exc:
                network.log.add(Connection(verdict.host, verdict.port, True, "webfetch", "GET", reason=str(exc)[:200],
                                           address=address))  # fmt: skip
                raise ToolFailed(f"could not fetch {url}: {type(exc).__name__}: {exc}") from None
            try:
                body = await _read_at_most(response, MAX_BYTES)
            finally:
                await response.aclose()
                network.log.add(Connection(verdict.host, verdict.port, True, "webfetch", "GET", address=address,
                                           received=response.num_bytes_downloaded))  # fmt: skip
            if response.is_redirect:
                return (
                    f"HTTP {response.status_code}: a redirect to {response.headers.get('location', '?')} (not followed)"
                )
            return capped(f"HTTP {response.status_code}\n{body.decode(response.encoding or 'utf-8', 'replace')}")
    network.log.add(Connection(verdict.host, verdict.port, True, "webfetch", "GET", reason=failure))
    raise ToolFailed(f"could not connect to any address of {verdict.host}: {failure}")


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The start of the response's body, at most `limit` bytes."""
    read = bytearray()
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= limit:
            break
    return bytes(read[:limit])
