"""Build the FastAPI application: settings, database, middleware, error handlers and routers."""

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from agentruns import __version__
from agentruns.api.errors import install_error_handlers
from agentruns.api.middleware import Authenticate, BodyLimit, DatabaseUnavailable
from agentruns.api.routes import agents, execute, health, run_files, runs, webhooks
from agentruns.collector import tuned_collector
from agentruns.engine.client import EngineClient
from agentruns.engine.worker import Worker
from agentruns.events.listener import NotificationListener
from agentruns.settings import Settings, get_settings
from agentruns.storage import migrate
from agentruns.storage.database import Database
from agentruns.storage.secrets_key import secret_box

ROUTERS = (health.router, agents.router, runs.router, run_files.router, execute.router, webhooks.router)

DESCRIPTION = """\
agentruns serves the Case.dev Agent API: agents, runs that are created, executed once, watched,
cancelled and listed, each run's full audit trail. Every call but `/health` needs
`Authorization: Bearer <key>`. Errors answer `{"error": {"code", "message"}}`.
"""


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    """The ASGI application; its lifespan applies migrations, opens the database and, in the embedded
    mode (`with_worker`), runs a worker in the same process and event loop."""
    settings = settings or get_settings()
    box = secret_box(settings)  # before anything starts: a missing key on PostgreSQL is a start-up error
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    engine = EngineClient(settings.database_url)
    listener = NotificationListener(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        await anyio.to_thread.run_sync(lambda: migrate.upgrade(settings.database_url, secrets=box))
        worker = Worker(settings, secrets=box) if with_worker else None
        if worker is not None:
            await worker.start()
        await listener.start()
        try:
            with tuned_collector():
                yield
        finally:
            await listener.stop()
            if worker is not None:
                await worker.stop()
            engine.close()
            await db.dispose()

    app = FastAPI(
        title="agentruns",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        separate_input_output_schemas=True,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.engine = engine
    app.state.secret_box = box
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Added last, so it runs first: the database's passing failures around all, the size limit, then authentication,
    # then routing.
    app.add_middleware(Authenticate, db=db, settings=settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(DatabaseUnavailable)
    return app
