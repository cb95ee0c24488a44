"""The client imports no server module, so that it installs and starts light."""

import subprocess
import sys

SERVER_ONLY = ("fastapi", "starlette", "sqlalchemy", "dbos", "pydantic_ai", "uvicorn", "alembic")
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
