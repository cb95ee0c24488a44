"""Cap what a tool returns to the model, saying so when it was cut."""

MAX_OUTPUT_CHARS = 30_000


def capped(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """The text, or its first `limit` characters and a note of how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[output cut: {len(text) - limit} more characters not shown]"
