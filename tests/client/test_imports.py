"""The client imports no server module, so that it installs and starts light."""

import pkgutil
import subprocess
import sys

import agentruns.schemas

# Not `limits`: the CLI's settings (agentruns.settings) check AGENTRUNS_RATE_LIMIT with it.
SERVER_ONLY = (
    "fastapi", "starlette", "sqlalchemy", "dbos", "pydantic_ai", "uvicorn", "alembic", "psycopg", "aiosqlite",
    "genai_prices", "standardwebhooks", "cryptography", "pyseccomp", "aiohttp",
)  # fmt: skip
SERVER_PACKAGES = ("agentruns.storage", "agentruns.engine", "agentruns.api", "agentruns.services", "agentruns.agent")


def imported_by(module: str) -> list[str]:
    """The server-only modules that importing `module` loads, in a fresh interpreter."""
    probe = (
        f"import sys, {module}\n"
        f"print('\\n'.join(m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY!r} "
        f"or m.startswith({SERVER_PACKAGES!r})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.split()


def test_the_client_imports_no_server_module() -> None:
    assert imported_by("agentruns.client") == []


def test_the_wire_models_import_no_server_module() -> None:
    # The client imports the server's wire models: they must stay free of the server's packages, all of them.
    modules = [info.name for info in pkgutil.iter_modules(agentruns.schemas.__path__, "agentruns.schemas.")]
    assert "agentruns.schemas.execute" in modules
    assert imported_by(", ".join(modules)) == []
