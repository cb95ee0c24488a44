"""The `agentruns` command: one Typer app, its sub-commands registered from their own modules."""

import typer

from agentruns.cli import agents, db, demo, execute, keys, run, runs, secrets, serve, worker

app = typer.Typer(name="agentruns", help="Run AI agents durably, each run in its own sandbox.", no_args_is_help=True)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(secrets.app, name="secrets")
app.add_typer(agents.app, name="agents")
app.add_typer(runs.app, name="runs")
app.command("run")(run.run)
app.command("execute")(execute.execute)


def main() -> None:
    """The console script's entry point."""
    app()
