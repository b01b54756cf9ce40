"""The e-mails the delivery consumer wrote: its Maildir outbox, counted by ``Message-ID``.

Without an SMTP host, ``nurture deliver --channel email`` writes each message to a local Maildir
(``<data dir>/outbox``) with ``Message-ID: <action_id@candidate-nurture>``
(:mod:`consumers.email_sender`). Two files with one ``Message-ID`` are two e-mails for one
action: a duplicate send.
"""

from __future__ import annotations

import re
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path

_MESSAGE_ID = re.compile(r"<(?P<action_id>[^@>]+)@candidate-nurture>")


def message_ids(outbox: Path) -> Counter[str]:
    """How many messages of the Maildir ``outbox`` carry each ``Message-ID`` (empty when the
    outbox does not exist yet)."""
    counted: Counter[str] = Counter()
    parser = BytesHeaderParser()
    for folder in ("new", "cur"):  # tmp/ holds messages still being written
        directory = outbox / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            with path.open("rb") as file:
                counted[str(parser.parse(file).get("Message-ID", "")).strip()] += 1
    return counted


def action_id_of(message_id: str) -> str | None:
    """The action id in a ``Message-ID`` written by delivery (None for any other)."""
    found = _MESSAGE_ID.fullmatch(message_id.strip())
    return None if found is None else found.group("action_id")


def duplicate_sends(counted: Counter[str]) -> dict[str, int]:
    """``Message-ID`` -> number of e-mails, for those sent more than once."""
    return {message_id: n for message_id, n in sorted(counted.items()) if n > 1}
