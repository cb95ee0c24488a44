"""The database schema of agentruns, in one module; Alembic migrations are generated from it."""

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agentruns.schemas.views import OrgOutcome, StepFields, UsageFields

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use agentruns.clock.now()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONValue = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# SQLite gives autoincrement only to INTEGER PRIMARY KEY; PostgreSQL wants a 64-bit identity.
Sequence = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The declarative base that holds the metadata of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Listed:
    """The columns of an object listed in cursor pages: a public id, its organization, an insertion order."""

    seq: Mapped[int] = mapped_column(Sequence, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))


class Organization(Base):
    """A tenant: every other object belongs to exactly one organization."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A bearer key of an organization; only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Agent(Listed, Base):
    """An agent: instructions, model, tools and sandbox size. Deleting it only marks it inactive."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    vault_ids: Mapped[list[str]] = mapped_column(JSONValue)
    vault_groups: Mapped[list[str]] = mapped_column(JSONValue)
    enabled_tools: Mapped[list[str] | None] = mapped_column(JSONValue)
    disabled_tools: Mapped[list[str] | None] = mapped_column(JSONValue)
    sandbox_cpu: Mapped[int] = mapped_column(Integer)
    sandbox_memory_mib: Mapped[int] = mapped_column(Integer)
    sandbox_network_allow: Mapped[list[str] | None] = mapped_column(JSONValue)
    """`sandbox.network.allow`: the domains its runs may reach; None: the deployment's default."""
    max_duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    max_model_requests: Mapped[int | None] = mapped_column(Integer)
    max_cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(Boolean)
    ephemeral: Mapped[bool] = mapped_column(Boolean, default=False)
    """Made by `POST /agent/v1/execute` for one run: never listed, deleted when that run ends."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_agents_org_active_seq", "org_id", "is_active", "seq"),)


class Run(Listed, Base):
    """One execution of an agent with a prompt, from `queued` to a terminal state."""

    __tablename__ = "runs"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    status: Mapped[str] = mapped_column(String(20))
    prompt: Mapped[str] = mapped_column(Text)
    guidance: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    object_ids: Mapped[list[str]] = mapped_column(JSONValue)
    workflow_id: Mapped[str | None] = mapped_column(String(80))
    provider: Mapped[str | None] = mapped_column(String(40))
    runtime_id: Mapped[str | None] = mapped_column(String(200))
    runtime_state: Mapped[str | None] = mapped_column(String(20))
    output: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    output_object_ids: Mapped[list[str]] = mapped_column(JSONValue)
    created_object_ids: Mapped[list[str]] = mapped_column(JSONValue)
    issues: Mapped[list[str]] = mapped_column(JSONValue)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    """The run whose agent started this one (a child run), if any."""
    depth: Mapped[int] = mapped_column(Integer, default=0)
    """0 for a run created through the API, its parent's depth + 1 for a child run."""
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSONValue, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    """The SHA-256 of the request that created the run with `idempotency_key`."""
    max_duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    max_model_requests: Mapped[int | None] = mapped_column(Integer)
    max_cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    waited_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    """Time spent waiting (for an answer or a child run) in finished waits: not counted against the time limit."""

    __table_args__ = (
        Index("ix_runs_org_seq", "org_id", "seq"),
        Index("ix_runs_org_agent_seq", "org_id", "agent_id", "seq"),
        Index("ix_runs_org_status_seq", "org_id", "status", "seq"),
        Index("ix_runs_org_parent_seq", "org_id", "parent_run_id", "seq"),
        UniqueConstraint("org_id", "idempotency_key", name="uq_runs_org_id_idempotency_key"),
    )


class RunWatcher(Base):
    """A callback URL to notify when a run ends."""

    __tablename__ = "run_watchers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("run_id", "url", name="uq_run_watchers_run_id_url"),)


class RunStep(Base):
    """One step of a run's audit trail, keyed by its number so a replayed write is a no-op."""

    __tablename__ = "run_steps"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text)
    tool_name: Mapped[str | None] = mapped_column(String(100))
    tool_input: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    tool_output: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())


class JournalEntry(Base):
    """What one model request or tool call of a run's workflow execution returned, kept to replay it after a crash.

    Execution 0 starts the run; execution N resumes it after its wait N. Entries are numbered in the order the
    execution made its requests and calls, and written in the transaction of the audit rows that report them.
    """

    __tablename__ = "run_journal"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    execution: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[str] = mapped_column(Text)
    """The result as JSON text (`engine/journal.py`): the start, a `ModelResponse`, a `ToolOutcome` or what a tool
    raised."""


class UsageEntry(Base):
    """One billable call of a run (one per model request), keyed by its number."""

    __tablename__ = "usage_entries"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    service: Mapped[str | None] = mapped_column(String(100))
    endpoint: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(10))
    status_code: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    total_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_micros: Mapped[int] = mapped_column(BigInteger)
    metadata_: Mapped[Any] = mapped_column("metadata", JSONValue, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())


class RunLog(Base):
    """One chunk of a run's logs: `runner` (what the worker did) or `runtime` (what the tools printed)."""

    __tablename__ = "run_logs"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(20), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())


class RunEvent(Base):
    """One event of a run's live stream, numbered 1, 2, 3 … per run with no gaps.

    `source` names the recorded item the event reports (`step:3`, `usage:2`, …), so a replayed write
    stores nothing twice; events whose writer guarantees they happen once (status changes) have none.
    """

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[Any] = mapped_column(JSONValue, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("run_id", "source", name="uq_run_events_run_id_source"),)


class WebhookSecret(Base):
    """A version of an organization's webhook signing secret; a rotated one still signs until `expires_at`."""

    __tablename__ = "webhook_secrets"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sealed_secret: Mapped[str] = mapped_column(Text)
    """The secret encrypted with the deployment's secrets key (`storage.secret_box`): never stored in plain text."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """A watcher's notification of its run's end: sent by workers under a lease, retried, resumed after a crash."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    watcher_id: Mapped[str] = mapped_column(ForeignKey("run_watchers.id"), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[Any] = mapped_column(JSONValue, nullable=False)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),)


class WebhookAttempt(Base):
    """One attempt at a delivery: stored when it starts, completed with its answer (none if it was cut short)."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class RunWait(Base):
    """A wait of a run: what its agent loop had said when it stopped to wait, kept to resume it from there.

    The waits of a run are numbered 1, 2, 3 …; wait N is resumed by the run's continuation workflow N.
    """

    __tablename__ = "run_waits"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started: Mapped[Any] = mapped_column(JSONValue, nullable=False)
    """What the run runs (instructions, model, tools, limits), fixed when it started."""
    history: Mapped[Any] = mapped_column(JSONValue, nullable=False)
    """The agent loop's messages so far (Pydantic AI's JSON form)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RunPendingCall(Base):
    """A tool call a wait waits for: a question for a person, or a child run; `result` is set when it is resolved."""

    __tablename__ = "run_pending_calls"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    wait_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tool_call_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    tool_name: Mapped[str] = mapped_column(String(100))
    tool_input: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    question: Mapped[str | None] = mapped_column(Text)
    child_run_id: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Worker(Base):
    """A live worker process: its heartbeat tells the others it still holds its runs."""

    __tablename__ = "workers"

    executor_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())


# pyright does not match a model's `Mapped` attributes to a protocol's (microsoft/pyright#11021), though at run time
# they are the plain values the protocol names: each function below states that its model is the view the wire form
# reads, so that callers pass models where a protocol is asked for without a cast of their own.
def run_view(run: Run) -> OrgOutcome:
    """The run as its status object and outcome read it."""
    return cast(OrgOutcome, run)


def step_view(step: RunStep) -> StepFields:
    """The step as its wire form reads it."""
    return cast(StepFields, step)


def usage_view(entry: UsageEntry) -> UsageFields:
    """The usage entry as its wire form reads it."""
    return cast(UsageFields, entry)
