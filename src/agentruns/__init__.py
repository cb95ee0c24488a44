"""agentruns: run AI agents durably, each run in its own sandbox, with a complete audit trail."""

__version__ = "0.1.0"
