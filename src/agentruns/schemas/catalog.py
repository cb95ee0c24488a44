"""The names users may write: tool names, model providers and the bounds of a sandbox."""

from typing import Literal, get_args

ToolName = Literal["bash", "read", "write", "edit", "glob", "grep", "webfetch", "todowrite", "question", "task"]
TOOL_NAMES: tuple[str, ...] = get_args(ToolName)

MODEL_ID_PATTERN = r"^(anthropic|openai|google|openai-compatible|offline)/[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$"
DEFAULT_MODEL = "anthropic/claude-sonnet-4.6"

SANDBOX_CPU_MIN, SANDBOX_CPU_MAX, SANDBOX_CPU_DEFAULT = 1, 8, 2
SANDBOX_MEMORY_MIN, SANDBOX_MEMORY_MAX, SANDBOX_MEMORY_DEFAULT = 256, 16384, 2048

PAGE_LIMIT_MIN, PAGE_LIMIT_MAX, PAGE_LIMIT_DEFAULT = 1, 250, 50
LIST_PROMPT_CHARS = 200

MAX_DURATION_MS_MIN, MAX_DURATION_MS_MAX = 1000, 86_400_000
MAX_MODEL_REQUESTS_MAX = 10_000
MAX_COST_MICROS_MAX = 1_000_000_000_000  # a million dollars

METADATA_MAX_KEYS, METADATA_KEY_MAX_CHARS, METADATA_VALUE_MAX_CHARS = 50, 40, 500
METADATA_KEY_PATTERN = r"^[A-Za-z0-9_.:/-]+$"
