"""Every ```python example of docs/sdk.md runs against a real server and worker, and prints what the docs say."""

import contextlib
import io

import pytest

from tests.support.markdown import DOCS, Block, matches, with_outputs
from tests.support.workers import WorkerProcess

SDK = DOCS / "sdk.md"
EXAMPLES = with_outputs(SDK, "python")
DOCS_URL = "http://127.0.0.1:2728"
DOCS_KEY = "local-dev-key"


def test_the_sdk_guide_shows_what_each_example_prints() -> None:
    assert len(EXAMPLES) >= 5
    assert [example.line for example, output in EXAMPLES if output is None] == []


@pytest.mark.parametrize(("example", "output"), EXAMPLES, ids=[f"line-{example.line}" for example, _ in EXAMPLES])
def test_sdk_example(
    example: Block,
    output: Block | None,
    base_url: str,
    api_key: str,
    worker: WorkerProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTRUNS_URL", base_url)  # for the examples that take the server from the environment
    monkeypatch.setenv("AGENTRUNS_API_KEY", api_key)
    # Blank lines before the code keep its line numbers those of the file, for the tracebacks.
    code = "\n" * example.line + example.text.replace(DOCS_URL, base_url).replace(DOCS_KEY, api_key)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(SDK), "exec"), {"__name__": "__main__"})  # noqa: S102 - the docs' own examples
    assert output is not None
    assert matches(output.text, printed.getvalue()), (
        f"{SDK}:{example.line} printed:\n{printed.getvalue()}\nbut the docs say:\n{output.text}\n{worker.output}"
    )
