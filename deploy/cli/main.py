"""`nurture`: one command line for the whole pipeline. Every command has ``--help``."""

from __future__ import annotations

# First, before the heavy imports: as the nurture program, a SIGINT during them ends the process
# with 130 (and SIGUSR1 prints stacks instead of killing it).
from deploy.cli import early_interrupt  # isort: skip

early_interrupt.install(__name__)

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Annotated

import typer

from deploy.cli import (
    bench_cmd,
    broker_cmd,
    campaigns_cmd,
    chaos_cmd,
    config_cmd,
    deliver_cmd,
    dlq_cmd,
    erase_cmd,
    gateway_cmd,
    publish_cmd,
    registry_cmd,
    replay_cmd,
    schemas_cmd,
    score_cmd,
    simulate_cmd,
    spec_cmd,
    topic_cmd,
    topics_cmd,
    up_cmd,
    worker_cmd,
)
from deploy.cli.context import CliContext
from deploy.cli.errors import ReportingGroup
from schemas.settings import KafkaSettings
from schemas.stack_dump import dump_stacks_on_sigusr1

app = typer.Typer(
    name="nurture",
    help="candidate-nurture: a Kafka-native pipeline that keeps candidates engaged.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ReportingGroup,  # settings, files, Kafka: one line each, exit 2 or 1 (no traceback)
)


#: The distribution whose version ``nurture --version`` prints.
DISTRIBUTION = "candidate-nurture"


def package_version() -> str:
    """The installed version of candidate-nurture (its metadata, as pip reports it)."""
    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "unknown (a source tree that is not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{DISTRIBUTION} {package_version()}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed candidate-nurture version and exit.",
        ),
    ] = False,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            "--bootstrap",
            help="Kafka bootstrap servers host:port[,host:port] "
            "(env NURTURE_BOOTSTRAP_SERVERS, default 127.0.0.1:9092).",
        ),
    ] = None,
    topic_prefix: Annotated[
        str | None,
        typer.Option("--topic-prefix", help="Prefix of every topic (env NURTURE_TOPIC_PREFIX)."),
    ] = None,
) -> None:
    """Global options apply to every command; security settings come from NURTURE_* env vars.

    ``kill -USR1 <pid>`` makes any nurture process print every thread's stack to stderr (for a
    process that hangs); it goes on running.
    """
    early_interrupt.restore()  # the imports are done: SIGINT raises KeyboardInterrupt again
    dump_stacks_on_sigusr1()
    overrides: dict[str, object] = {}
    if bootstrap is not None:
        overrides["bootstrap_servers"] = bootstrap
    if topic_prefix is not None:
        overrides["topic_prefix"] = topic_prefix
    ctx.meta[config_cmd.KAFKA_OVERRIDES] = overrides
    if ctx.invoked_subcommand == config_cmd.NAME:
        return  # it loads every setting itself, to report all the invalid ones at once
    # an invalid setting raises here, before any command runs: ReportingGroup reports it
    ctx.obj = CliContext(kafka=KafkaSettings(**overrides))  # type: ignore[arg-type]


app.add_typer(broker_cmd.app, name="broker")
app.add_typer(registry_cmd.app, name="registry")
app.add_typer(schemas_cmd.app, name="schemas")
topics_cmd.app.command("export")(topic_cmd.export)
topics_cmd.app.command("import")(topic_cmd.import_)
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(topics_cmd.app, name="topic", help="Alias of `nurture topics`.", hidden=True)
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(campaigns_cmd.app, name="campaigns")
app.add_typer(erase_cmd.app, name="erasure")
app.add_typer(erase_cmd.keys_app, name="keys")
app.add_typer(replay_cmd.app, name="replay")
app.add_typer(dlq_cmd.app, name="dlq")
app.add_typer(spec_cmd.app, name="spec")
app.command("up")(up_cmd.up)
app.command("worker")(worker_cmd.worker)
app.command("deliver")(deliver_cmd.deliver)
app.command("score")(score_cmd.score)
app.command("erase")(erase_cmd.erase)
app.command("gateway")(gateway_cmd.gateway)
app.command("publish")(publish_cmd.publish)
app.command("simulate")(simulate_cmd.simulate)
app.command("chaos")(chaos_cmd.chaos)
app.command(config_cmd.NAME)(config_cmd.config)


if __name__ == "__main__":
    app()
