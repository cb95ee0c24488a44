"""`/openapi.json` and `/docs` describe exactly what the server does; schemathesis finds no 5xx."""

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from agentruns.api.app import ROUTERS

# The event stream, which stays open until its run ends.
NOT_SERVED_YET = r"/agent/v1/run/\{run_id\}/events$"
CALLBACK_URL_CALLS = """
[[operations]]
include-method = "POST"
include-path-regex = '^/agent/v1/run(/\\{run_id\\}/watch)?$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""


def test_the_document_lists_exactly_the_served_routes(anonymous: httpx.Client) -> None:
    document = anonymous.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = {
        (method, re.sub(r":\w+}", "}", route.path))  # a `{path:file_path}` parameter is documented as `{path}`
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert len(served) == 22
    assert documented == served
    assert ("POST", "/agent/v1/run/{run_id}/exec") in documented
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_every_operation_documents_the_error_envelope_and_has_no_422(anonymous: httpx.Client) -> None:
    document = anonymous.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (method, path)
            assert operation["responses"]["4XX"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    create = document["components"]["schemas"]["AgentCreate"]
    assert create["examples"] and create["not"]["required"] == ["enabledTools", "disabledTools"]


def test_docs_page_is_served(anonymous: httpx.Client) -> None:
    response = anonymous.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    base_url: str, api_key: str, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{base_url}/openapi.json",
        "--checks", "all",
        # A deleted agent stays readable (with isActive false), by design: see docs/api.md.
        "--exclude-checks", "use_after_free",
        "--exclude-path-regex", NOT_SERVED_YET,
        "--header", f"Authorization: Bearer {api_key}",
        "--max-examples", "25",  # about 1,000 cases per backend; the suite must stay under 15 minutes
        "--workers", "1",  # two threads race in CPython 3.11's ast.parse (hypothesis parses filter lambdas):
        # "SystemError: AST constructor recursion depth mismatch", a runtime error of schemathesis itself
        "--no-color",
    ]  # fmt: skip
    # A callback URL the schema allows is still refused (400) when it is not https or reaches a private address,
    # which no schema can say (see docs/api.md): for the two calls that take one, a 400 is an accepted answer.
    (tmp_path / "schemathesis.toml").write_text(CALLBACK_URL_CALLS)
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=580, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    generated = int(re.search(r"(\d+) generated", output).group(1))  # pyright: ignore[reportOptionalMemberAccess]
    print(f"schemathesis ran {generated} cases")
    assert generated > 500
