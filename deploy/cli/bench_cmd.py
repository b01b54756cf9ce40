"""`nurture bench ...`: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks; each prints its figures.", no_args_is_help=True)
