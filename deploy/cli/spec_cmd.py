"""`nurture spec asyncapi|openapi`: the machine-readable contracts for other systems.

Both print to stdout what docs/asyncapi.yaml and docs/openapi.json hold (``make docs`` writes
them; tests/test_contract_docs.py fails while either is stale). Neither reads a setting nor
connects to Kafka: the documents describe the declarations, not a deployment.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Print the AsyncAPI document of every topic or the gateway's OpenAPI document.",
    no_args_is_help=True,
)


@app.command()
def asyncapi() -> None:
    """The AsyncAPI 3.0 document of every topic (docs/asyncapi.yaml): key, every schema version,
    cleanup policy, retention as declared, who writes and who reads."""
    from deploy.contract.asyncapi import render_asyncapi  # noqa: PLC0415 - keeps --help fast

    typer.echo(render_asyncapi(), nl=False)


@app.command()
def openapi() -> None:
    """The HTTP gateway's OpenAPI document (docs/openapi.json), as its /openapi.json serves it."""
    from deploy.contract.openapi import render_openapi  # noqa: PLC0415 - keeps --help fast

    typer.echo(render_openapi(), nl=False)
