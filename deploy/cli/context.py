"""What every `nurture` command shares: the settings chosen by global flags and the environment."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.console import Console
from rich.markup import escape

from schemas.errors import ConfigError, NurtureError
from schemas.settings import KafkaSettings

console = Console()
err_console = Console(stderr=True)

#: Exit status of a usage or configuration error: a bad option (click's own status), a
#: NURTURE_* setting, an input, model or campaign file, a missing topic (a ConfigError).
EXIT_USAGE = 2
#: Exit status of any other failure a command names (Kafka unreachable or refusing, ...).
EXIT_FAILURE = 1


@dataclass(frozen=True)
class CliContext:
    kafka: KafkaSettings


def kafka_settings(ctx: typer.Context) -> KafkaSettings:
    """The Kafka settings for this invocation (environment, then global flags)."""
    root = ctx.find_root()
    obj = root.obj
    if isinstance(obj, CliContext):
        return obj.kafka
    return KafkaSettings()


def exit_status(error: NurtureError | str) -> int:
    """:data:`EXIT_USAGE` for a :class:`ConfigError`, else :data:`EXIT_FAILURE`."""
    return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILURE


def fail(error: NurtureError | str, code: int | None = None) -> typer.Exit:
    """Print a clear error (no traceback, not wrapped) and return the Exit to raise; the
    status is ``code`` or else :func:`exit_status` of ``error``."""
    if code is None:
        code = exit_status(error)
    err_console.print(
        f"[bold red]error:[/] {escape(str(error))}", highlight=False, markup=True, soft_wrap=True
    )
    return typer.Exit(code)
