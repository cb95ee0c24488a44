"""Fixtures: every test runs against real SQLite and real PostgreSQL, through a real HTTP server."""

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentruns.services.auth import issue_key
from agentruns.settings import Settings
from agentruns.storage import migrate
from tests.support.databases import BACKENDS, database_url_for
from tests.support.model_stub import ModelStub
from tests.support.portal import AsyncBridge, async_bridge
from tests.support.secrets_key import share_with_the_session
from tests.support.servers import running_server, serving
from tests.support.workers import TEST_POOL_SIZE, WorkerProcess
from tests.support.workspaces import reachable_directory

_org_numbers = itertools.count()
share_with_the_session()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind under test: `sqlite` or `postgresql`."""
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database of the backend under test, migrated to the newest revision."""
    with database_url_for(backend, tmp_path_factory.mktemp(backend)) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def workspace_root() -> Iterator[Path]:
    """Where the server under test and the test workers find runs' workspaces (a sandbox's user can reach it)."""
    with reachable_directory("agentruns-workspaces-") as base:
        yield base / "workspaces"


@pytest.fixture(scope="session")
def model_stub() -> Iterator[tuple[ModelStub, str]]:
    """The stub and its base URL (`…/v1`)."""
    stub = ModelStub()
    with serving(stub.app()) as url:
        yield stub, f"{url}/v1"


@pytest.fixture
def workspaces() -> Iterator[Path]:
    """A workspace root of the test's own, for workers it starts (a sandbox's user can reach it)."""
    with reachable_directory("agentruns-workspaces-") as base:
        yield base / "workspaces"


@pytest.fixture(scope="session")
def worker(database_url: str, workspace_root: Path, model_stub: tuple[ModelStub, str]) -> Iterator[WorkerProcess]:
    """A worker process on the database under test, reaching the stub as its OpenAI-compatible server; its
    runs' workspaces may take 64 MiB (the escape tests fill one)."""
    process = WorkerProcess(
        database_url, workspace_root, openai_compatible_base_url=model_stub[1], sandbox_max_workspace_mib="64"
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, workspace_root: Path) -> Settings:
    """Settings of the server under test: no default key, the workers' workspace root, a small pool (a test
    session runs several processes on one PostgreSQL server), the rest as shipped."""
    return Settings(database_url=database_url, api_key=None, workspace_root=str(workspace_root),
                    database_pool_size=int(TEST_POOL_SIZE))  # fmt: skip


@pytest.fixture(scope="session")
def bridge(database_url: str) -> Iterator[AsyncBridge]:
    """The services of the database under test, callable from synchronous tests."""
    with async_bridge(database_url) as opened:
        yield opened


@pytest.fixture(scope="session")
def base_url(settings: Settings) -> Iterator[str]:
    """The URL of a real agentruns server on loopback."""
    with running_server(settings) as url:
        yield url


def new_key(bridge: AsyncBridge) -> str:
    """A key of a brand-new organization, so that every test starts with empty lists."""
    return bridge.call(issue_key, bridge.db, f"org-{next(_org_numbers)}-{id(bridge)}").key


@pytest.fixture
def api_key(bridge: AsyncBridge) -> str:
    """A key of a fresh organization."""
    return new_key(bridge)


@pytest.fixture
def client(base_url: str, api_key: str) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as a fresh organization."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as http:
        yield http


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client with no key."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


@pytest.fixture
def tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[tuple[str, httpx.Client]]:
    """A database of its own, with an API server (no worker) and a client: no other worker takes its runs."""
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            key = bridge.call(issue_key, bridge.db, "fresh").key
        with (
            running_server(Settings(database_url=url)) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
        ):
            yield url, client
