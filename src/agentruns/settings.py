"""Every setting of agentruns in one place, read from `AGENTRUNS_*` environment variables."""

from functools import lru_cache
from typing import Literal, Self

import limits
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentruns.sandbox.egress.allowlist import Allowlist, BadEntry
from agentruns.sandbox.egress.stand_ins import parse_stand_ins

DEFAULT_DATABASE_URL = "sqlite:///./.agentruns/agentruns.db"
# The setting was a boolean: its false values still mean `off`; its true ones, the host's network, are refused.
_OLD_NETWORK_ON = ("true", "1", "on", "yes", "y", "t")
_OLD_NETWORK_OFF = ("false", "0", "no", "n", "f")


class Settings(BaseSettings):
    """The deployment's configuration; the README's configuration table documents each field."""

    model_config = SettingsConfigDict(env_prefix="AGENTRUNS_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="`sqlite:///path/file.db` or `postgresql://user@host:port/db`.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="A key accepted for the organization named by `default_org_name`, created on first use.",
    )
    default_org_name: str = Field(default="default", description="The organization `api_key` belongs to.")
    key_cache_seconds: float = Field(
        default=30, ge=0, le=300, description="How long an API process trusts a key it found valid (0: never caches)."
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys, comma-separated, that encrypt stored secrets: the first encrypts, all decrypt.",
    )
    secrets_key_file: str | None = Field(
        default=None, description="A file holding the `secrets_key` keys (one a line, or comma-separated)."
    )
    database_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Connections one process keeps to PostgreSQL for agentruns' tables."
    )
    engine_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Connections a worker's durable engine (DBOS) keeps to PostgreSQL."
    )
    host: str = Field(default="127.0.0.1", description="Address `agentruns serve` binds.")
    port: int = Field(default=2728, ge=1, le=65535, description="Port `agentruns serve` binds.")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted; larger bodies get 413."
    )
    rate_limit: str = Field(
        default="1200/minute",
        description="Requests one organization may make to one API process, as `N/second|minute|hour`; `off`: none.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    worker: bool = Field(default=True, description="Whether `agentruns serve` also runs a worker in its process.")
    worker_concurrency: int = Field(default=500, ge=1, description="Runs one worker executes at once.")
    org_concurrency: int = Field(default=100, ge=1, description="Runs one organization may have running at once.")
    queue_poll_seconds: float = Field(default=0.2, gt=0, le=10, description="How often a worker looks for queued runs.")
    worker_heartbeat_seconds: float = Field(
        default=2.0, gt=0, le=60, description="How often a worker tells the others that it is alive."
    )
    worker_dead_after_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How long a worker's silence lasts before others take over its runs (at least 3 heartbeats).",
    )
    run_time_limit_seconds: float = Field(default=1800, gt=0, description="Time limit of a run (agents may set less).")
    max_model_requests: int = Field(
        default=50, ge=1, description="Model requests one run may make (an agent or a run may set another)."
    )
    max_cost_micros: int | None = Field(
        default=None, ge=1, description="Cost one run may reach, in micro-dollars (agents, runs may set another)."
    )
    wait_time_limit_seconds: float = Field(
        default=86400, gt=0, description="How long a run may wait for an answer or a child run before it times out."
    )
    max_run_depth: int = Field(
        default=3, ge=0, le=20, description="How deep child runs nest: a run at this depth cannot start another."
    )
    workspace_root: str = Field(default="./.agentruns/workspaces", description="Where runs' workspaces live.")
    executor_id: str | None = Field(default=None, description="This process's name among the workers; random if unset.")
    sandbox_network: Literal["off", "proxy"] = Field(
        default="off",
        description="Runs' network: `off` (none), or `proxy` (only through the worker's egress proxy, by allowlist).",
    )
    sandbox_network_allow: str = Field(
        default="",
        description="Domains runs may reach in `proxy` mode unless their agent lists its own (comma-separated).",
    )
    sandbox_network_test_hosts: str = Field(
        default="",
        description="Test only: `name=127.0.0.1[:port]` items the egress proxy takes for public hosts.",
    )
    workspace_keep_seconds: float = Field(
        default=3600, ge=0, description="How long a finished run's workspace is kept; 0 deletes it when the run ends."
    )
    sandbox_provider: str = Field(
        default="bubblewrap", description="Where runs' tools run: `bubblewrap`, or an installed provider plugin's name."
    )
    bwrap_path: str = Field(default="bwrap", description="The bubblewrap executable: a name on the PATH, or a path.")
    allow_unisolated_sandbox: bool = Field(
        default=False, description="Development only: run tools WITHOUT isolation when bubblewrap cannot run here."
    )
    allow_unfiltered_sandbox: bool = Field(
        default=False, description="Run tools in bubblewrap WITHOUT a seccomp filter where none can be applied here."
    )
    sandbox_max_processes: int = Field(default=256, ge=16, description="Processes a run's sandbox may have at once.")
    sandbox_max_file_mib: int = Field(default=512, ge=1, description="Largest file a run's commands may write (MiB).")
    sandbox_max_workspace_mib: int = Field(
        default=4096, ge=1, description="Disk a run's workspace may take (MiB); beyond it commands are killed."
    )
    sandbox_max_workspace_files: int = Field(
        default=100_000,
        ge=100,
        description="Files, directories and links a run's workspace may hold; beyond it commands are killed.",
    )
    sandbox_command_timeout_seconds: float = Field(
        default=120, gt=0, description="Time limit of one command of a run's `bash` tool (the model may ask less)."
    )
    openai_compatible_base_url: str | None = Field(
        default=None, description="Chat-completions endpoint of `openai-compatible/<model>` (vLLM, Ollama, …)."
    )
    openai_compatible_api_key: SecretStr | None = Field(
        default=None, description="Key sent to the OpenAI-compatible endpoint, if it needs one."
    )
    stream_model_responses: bool = Field(
        default=True, description="Whether workers stream model responses, for `run.text.delta` events."
    )
    events_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="How often an API process checks a followed run's log for new events."
    )
    events_keepalive_seconds: float = Field(
        default=15, gt=0, le=300, description="Idle time after which an event stream sends a keep-alive comment."
    )
    webhook_retry_seconds: float = Field(
        default=30, gt=0, le=86400, description="Delay before a webhook's first retry; each next doubles (jittered)."
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Development only: webhooks may go to loopback and private addresses, and over plain http.",
    )
    webhook_ca_bundle: str | None = Field(
        default=None, description="A PEM file of CA certificates trusted for webhook targets, besides the system's."
    )

    @model_validator(mode="after")
    def _dead_after_several_heartbeats(self) -> Self:
        # A worker declared dead while it is alive would have its runs executed twice: one late beat must not.
        if self.worker_dead_after_seconds < 3 * self.worker_heartbeat_seconds:
            raise ValueError(
                "AGENTRUNS_WORKER_DEAD_AFTER_SECONDS must be at least 3 times AGENTRUNS_WORKER_HEARTBEAT_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _one_source_of_secrets_keys(self) -> Self:
        if self.secrets_key is not None and self.secrets_key_file is not None:
            raise ValueError("set AGENTRUNS_SECRETS_KEY or AGENTRUNS_SECRETS_KEY_FILE, not both")
        return self

    @field_validator("sandbox_network", mode="before")
    @classmethod
    def _a_network_mode(cls, value: object) -> object:
        text = str(value).strip().lower()
        if value is True or text in _OLD_NETWORK_ON:
            raise ValueError(
                f"AGENTRUNS_SANDBOX_NETWORK is a mode now, `off` or `proxy`; {value!r} (the old boolean) gave runs the "
                "host's network, which agentruns no longer does: set it to `proxy` (egress only through the worker's "
                "proxy, to the domains of AGENTRUNS_SANDBOX_NETWORK_ALLOW or the agent's sandbox.network.allow) "
                "or to `off`"
            )
        return "off" if value is False or text in _OLD_NETWORK_OFF else text

    @field_validator("sandbox_network_allow")
    @classmethod
    def _an_allowlist(cls, value: str) -> str:
        try:
            Allowlist.from_setting(value)
        except BadEntry as exc:
            raise ValueError(f"AGENTRUNS_SANDBOX_NETWORK_ALLOW: {exc}") from None
        return value

    @field_validator("sandbox_network_test_hosts")
    @classmethod
    def _test_hosts(cls, value: str) -> str:
        try:
            parse_stand_ins(value)
        except ValueError as exc:
            raise ValueError(f"AGENTRUNS_SANDBOX_NETWORK_TEST_HOSTS: {exc}") from None
        return value

    @field_validator("rate_limit")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        if value.strip().lower() != "off":
            limits.parse(value)  # a ValueError names the text it could not read
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once per process."""
    return Settings()
