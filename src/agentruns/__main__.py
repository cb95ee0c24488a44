"""`python -m agentruns` runs the CLI."""

from agentruns.cli import main

main()
