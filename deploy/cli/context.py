"""What every `nurture` command shares: the settings chosen by global flags and the environment."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.console import Console

from schemas.errors import NurtureError
from schemas.settings import KafkaSettings

console = Console()
err_console = Console(stderr=True)


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


def fail(error: NurtureError | str, code: int = 1) -> typer.Exit:
    """Print a clear error (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
    return typer.Exit(code)
