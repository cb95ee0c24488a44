"""Model ids become the provider's Pydantic AI model, built once per event loop, or a clear credentials error."""

import asyncio

import pytest

from agentruns.agent.models import MissingCredentials, build_model
from agentruns.settings import Settings

SETTINGS = Settings(openai_compatible_base_url="http://127.0.0.1:9/v1")


@pytest.mark.parametrize(
    ("model_id", "variable", "model_class", "system"),
    [
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY", "AnthropicModel", "anthropic"),
        ("openai/gpt-4o", "OPENAI_API_KEY", "OpenAIResponsesModel", "openai"),
        ("google/gemini-2.5-pro", "GOOGLE_API_KEY", "GoogleModel", "google"),
        ("openai-compatible/llama3", None, "OpenAIChatModel", "openai"),
        ("offline/echo", None, "OfflineModel", "offline"),
    ],
)
def test_each_provider_builds_its_model(
    model_id: str, variable: str | None, model_class: str, system: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if variable is not None:
        monkeypatch.setenv(variable, "test-key")

    model = build_model(model_id, SETTINGS)

    assert (type(model).__name__, model.model_name, model.system) == (model_class, model_id.split("/", 1)[1], system)


def test_a_provider_without_credentials_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    with pytest.raises(MissingCredentials, match="set ANTHROPIC_API_KEY"):
        build_model("anthropic/claude-sonnet-4-5", SETTINGS)


def test_one_model_per_id_in_an_event_loop_sharing_one_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")

    async def build() -> tuple[object, object, object]:
        return (
            build_model("openai/gpt-4o", SETTINGS),
            build_model("openai/gpt-4o", SETTINGS),
            build_model("openai-compatible/llama3", SETTINGS),
        )

    first, again, other = asyncio.run(build())
    in_another_loop = asyncio.run(build())[0]

    assert first is again and first is not other and first is not in_another_loop
