"""Turn a model id (`provider/model`) into a Pydantic AI model, or say which credential is missing."""

import asyncio
import os
import weakref
from dataclasses import dataclass

import httpx2
from pydantic_ai.models import Model, get_user_agent

from agentruns.agent.offline import OfflineModel
from agentruns.settings import Settings


class MissingCredentials(Exception):
    """The model's provider has no credentials in this process's environment."""


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model id."""

    provider: str
    name: str

    @classmethod
    def parse(cls, model_id: str) -> "ModelRef":
        """Split `provider/model` (the API validated the form already)."""
        provider, _, name = model_id.partition("/")
        return cls(provider=provider, name=name)


def _env(*names: str) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def check_credentials(model_id: str, settings: Settings) -> None:
    """Raise `MissingCredentials`, naming the variable to set, if the provider cannot be reached."""
    ref = ModelRef.parse(model_id)
    missing = {
        "anthropic": None if _env("ANTHROPIC_API_KEY") else "ANTHROPIC_API_KEY",
        "openai": None if _env("OPENAI_API_KEY") else "OPENAI_API_KEY",
        "google": None if _env("GOOGLE_API_KEY", "GEMINI_API_KEY") else "GOOGLE_API_KEY",
        "openai-compatible": None if settings.openai_compatible_base_url else "AGENTRUNS_OPENAI_COMPATIBLE_BASE_URL",
    }.get(ref.provider)
    if missing:
        raise MissingCredentials(f"model {model_id!r} needs credentials: set {missing} in the worker's environment")


# Per event loop (an HTTP client belongs to the loop it was first used on): the models built so far,
# by model id and credentials. Building a model per request would build an HTTP client per request, and a
# new client loads the CA bundle into a TLS context: about 10 ms of CPU, a third of a worker's time under load.
# The client is HTTPX2's, as the provider SDKs expect, over aiohttp's connection pool (the OpenAI SDK's
# `DefaultAioHttpClient`): HTTPX2's own pool looks through every connection on each request, so a worker with
# a thousand requests in flight spent 4 ms of CPU per request in it, aiohttp's 1 ms (bench/concurrency.py).
_models: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str | None, ...], Model]]
_models = weakref.WeakKeyDictionary()
_http_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = weakref.WeakKeyDictionary()


def build_model(model_id: str, settings: Settings) -> Model:
    """The Pydantic AI model for an id (one per id and credentials in this event loop, sharing one HTTP
    client); `check_credentials` first for a clear error."""
    check_credentials(model_id, settings)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _new_model(model_id, settings, None)
    key = (model_id, *_credentials(settings))
    models = _models.setdefault(loop, {})
    if key not in models:
        if loop not in _http_clients and ModelRef.parse(model_id).provider != "offline":
            _http_clients[loop] = model_http_client()
        models[key] = _new_model(model_id, settings, _http_clients.get(loop))
    return models[key]


def model_http_client() -> httpx2.AsyncClient:
    """A new HTTP client for model providers over aiohttp's pool: the timeouts and connection limits of the OpenAI
    SDK, which Pydantic AI's own client has too (600 s, 5 s to connect; 1,000 connections), and its user agent.

    Proxies come from the environment (`HTTPS_PROXY`, `NO_PROXY`, ...), as with HTTPX2's own transport.
    """
    from openai import DefaultAioHttpClient  # the SDK takes seconds to import: only once a provider is used

    return DefaultAioHttpClient(headers={"User-Agent": get_user_agent()})


def _credentials(settings: Settings) -> tuple[str | None, ...]:
    compatible_key = settings.openai_compatible_api_key
    return (
        _env("ANTHROPIC_API_KEY"),
        _env("OPENAI_API_KEY"),
        _env("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        settings.openai_compatible_base_url,
        compatible_key.get_secret_value() if compatible_key else None,
    )


def _new_model(model_id: str, settings: Settings, http: httpx2.AsyncClient | None) -> Model:
    # Each provider's SDK is imported on first use: together they take seconds to import, which every
    # process start (a worker, the API, the CLI) would pay for providers it may never call.
    ref = ModelRef.parse(model_id)
    if ref.provider == "offline":
        return OfflineModel(ref.name)
    if ref.provider == "anthropic":
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        provider = AnthropicProvider(api_key=_env("ANTHROPIC_API_KEY"), http_client=http)
        return AnthropicModel(ref.name, provider=provider)
    if ref.provider == "openai":
        from pydantic_ai.models.openai import OpenAIResponsesModel
        from pydantic_ai.providers.openai import OpenAIProvider

        return OpenAIResponsesModel(ref.name, provider=OpenAIProvider(api_key=_env("OPENAI_API_KEY"), http_client=http))
    if ref.provider == "google":
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        provider = GoogleProvider(api_key=_env("GOOGLE_API_KEY", "GEMINI_API_KEY"), http_client=http)
        return GoogleModel(ref.name, provider=provider)
    if ref.provider == "openai-compatible":
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        key = settings.openai_compatible_api_key
        provider = OpenAIProvider(
            base_url=settings.openai_compatible_base_url,
            api_key=key.get_secret_value() if key else "no-key-needed",
            http_client=http,
        )
        return OpenAIChatModel(ref.name, provider=provider)
    raise MissingCredentials(f"unknown model provider {ref.provider!r} in {model_id!r}")
