"""One head again: 0010 (an agent's network allowlist) and 0011 (sealed webhook secrets) both follow 0009.

They were made side by side and touch different tables, so either order is right; this revision only joins them.

Revision ID: 0012
Revises: 0010, 0011
"""

revision: str = "0012"
down_revision: tuple[str, ...] = ("0010", "0011")
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
