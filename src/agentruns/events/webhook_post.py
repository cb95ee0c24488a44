"""POST a webhook to a checked target, connecting only to an address the check allowed (pinned).

The request goes to the IP address itself, with the URL's host in `Host` and in TLS (SNI and the
certificate check), so the name is not looked up again between the check and the connection. Redirects
are not followed, proxies named by the environment are not used, and only the start of an answer is read.
"""

import ssl
from dataclasses import dataclass

import httpx

from agentruns.events.targets import Target

TIMEOUT_SECONDS = 10.0
READ_AT_MOST = 2000
USER_AGENT = "agentruns-webhooks"


@dataclass(frozen=True, slots=True)
class Answer:
    """How an attempt went: the target's status code, if it answered, and what went wrong, if anything."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        """Whether the target accepted the webhook (a 2xx answer)."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trusted certificates, plus those of `ca_bundle` (a PEM file) if given."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def webhook_client(ca_bundle: str | None) -> httpx.AsyncClient:
    """The HTTP client deliveries share: no redirects, no proxies from the environment, a short timeout."""
    return httpx.AsyncClient(
        verify=tls_context(ca_bundle), follow_redirects=False, trust_env=False, timeout=TIMEOUT_SECONDS
    )


async def _start_of(response: httpx.Response) -> str:
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= READ_AT_MOST:
            break
    return read[:READ_AT_MOST].decode("utf-8", "replace")


async def post(client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str]) -> Answer:
    """Send the body to the first of the target's addresses that accepts a connection."""
    failure = "no address to connect to"
    for address in target.addresses:
        url = target.url.copy_with(host=address)
        sent = {**headers, "Host": target.url.netloc.decode("ascii"), "Content-Type": "application/json",
                "User-Agent": USER_AGENT}  # fmt: skip
        try:
            request = client.build_request(
                "POST", url, content=body, headers=sent, extensions={"sni_hostname": target.host}
            )
            response = await client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failure = f"cannot connect to {address}: {exc or type(exc).__name__}"
            continue
        except httpx.HTTPError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc or 'no detail'}")
        status = response.status_code
        try:
            if response.is_redirect:
                return Answer(status, f"redirects are not followed (to {response.headers.get('location', '?')})")
            if not response.is_success:
                return Answer(status, f"HTTP {status}: {await _start_of(response)}".strip())
            return Answer(status, None)
        except httpx.HTTPError as exc:
            return Answer(status, f"{type(exc).__name__}: {exc or 'no detail'}")
        finally:
            await response.aclose()
    return Answer(None, failure)
