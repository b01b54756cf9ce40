"""The endpoints the links in e-mails point at: open pixel, click redirect, unsubscribe.

No API key: the signed token in the path is the credential (:mod:`.tracking`). Every answer
carries ``Cache-Control: no-store`` (each open must reach us, and no cache may keep a token) and
``Referrer-Policy: no-referrer`` (no token leaks to the click target). Bodies never echo the
token or anything from it but the click target.

* ``GET /t/open/{token}[.gif]``: always the 1x1 transparent GIF, also for a refused token (a
  mail client must not learn whether a token is valid, and a broken image helps nobody).
* ``GET /t/click/{token}``: 302 to the URL signed into the token; a refused token is 400 (never
  a redirect to anything else: no open redirect). Kafka's trouble does not stop the redirect.
* ``GET /t/unsubscribe/{token}``: a page with a button that POSTs; link scanners GET links, so
  a GET never unsubscribes.
* ``POST /t/unsubscribe/{token}``: RFC 8058 one-click (body ``List-Unsubscribe=One-Click``, not
  required): 200 once the event is acknowledged (or was before), 503 + Retry-After while Kafka
  is down: an unsubscribe is never answered "done" and then lost.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from producers.gateway.state import gateway_of

router = APIRouter(tags=["tracking"])

#: The smallest transparent GIF (1x1, 42 bytes).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
GIF = "image/gif"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
INVALID_LINK = "This link is invalid or has expired.\n"

Token = Annotated[
    str, Path(min_length=1, description="Signed, expiring token from the e-mail (opaque).")
]

_HEADER_DOCS: dict[str, Any] = {
    "Cache-Control": {"description": "Always no-store.", "schema": {"type": "string"}},
}
_TEXT_SCHEMA = {"schema": {"type": "string"}}
_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "The token is malformed, forged, for another link or expired.",
        "content": {"text/plain": _TEXT_SCHEMA},
        "headers": _HEADER_DOCS,
    }
}

_CONFIRM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Unsubscribe</title></head>
<body><h1>Unsubscribe</h1>
<p>Stop receiving these e-mails?</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form></body></html>
"""
_DONE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Unsubscribed</title></head>
<body><h1>You are unsubscribed</h1><p>You will not receive these e-mails any more.</p></body>
</html>
"""


def _text(status: int, text: str, extra: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(text, status_code=status, headers={**NO_STORE, **(extra or {})})


@router.get(
    "/t/open/{token}",
    summary="Open pixel of an e-mail (publishes email_opened)",
    response_class=Response,
    responses={
        200: {
            "description": "A 1x1 transparent GIF, whether or not the token was valid.",
            "content": {GIF: {"schema": {"type": "string", "format": "binary"}}},
            "headers": _HEADER_DOCS,
        }
    },
)
async def open_pixel(token: Token, request: Request) -> Response:
    tracking = gateway_of(request).tracking
    claims = tracking.claims("open", token.removesuffix(".gif"))
    if claims is not None:
        await tracking.publish(claims)
    return Response(PIXEL, media_type=GIF, headers=NO_STORE)


@router.get(
    "/t/click/{token}",
    summary="Tracked link of an e-mail (publishes email_clicked, redirects)",
    response_class=Response,
    status_code=302,
    responses={
        302: {
            "description": "To the target URL signed into the token.",
            "headers": {
                **_HEADER_DOCS,
                "Location": {"description": "The target URL.", "schema": {"type": "string"}},
            },
        },
        **_REFUSED,
    },
)
async def click(token: Token, request: Request) -> Response:
    tracking = gateway_of(request).tracking
    claims = tracking.claims("click", token)
    if claims is None or claims.url is None:
        return _text(400, INVALID_LINK)
    await tracking.publish(claims)
    return RedirectResponse(claims.url, status_code=302, headers=NO_STORE)


@router.get(
    "/t/unsubscribe/{token}",
    summary="Unsubscribe page of an e-mail (a button that POSTs; a GET changes nothing)",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "Asks for confirmation.",
            "content": {"text/html": _TEXT_SCHEMA},
            "headers": _HEADER_DOCS,
        },
        **_REFUSED,
    },
)
async def unsubscribe_page(token: Token, request: Request) -> Response:
    if gateway_of(request).tracking.claims("unsubscribe", token) is None:
        return _text(400, INVALID_LINK)
    return HTMLResponse(_CONFIRM_PAGE, headers=NO_STORE)


@router.post(
    "/t/unsubscribe/{token}",
    summary="One-click unsubscribe, RFC 8058 (publishes unsubscribed)",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "Unsubscribed (now or before: repeats publish nothing new).",
            "content": {"text/html": _TEXT_SCHEMA},
            "headers": _HEADER_DOCS,
        },
        **_REFUSED,
        500: {
            "description": "Kafka refused the event for good.",
            "content": {"text/plain": _TEXT_SCHEMA},
            "headers": _HEADER_DOCS,
        },
        503: {
            "description": "Kafka did not acknowledge: nothing recorded yet, retry.",
            "content": {"text/plain": _TEXT_SCHEMA},
            "headers": {
                **_HEADER_DOCS,
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}
                        },
                    }
                }
            },
        }
    },
)
async def unsubscribe(token: Token, request: Request) -> Response:
    gateway = gateway_of(request)
    claims = gateway.tracking.claims("unsubscribe", token)
    if claims is None:
        return _text(400, INVALID_LINK)
    status = await gateway.tracking.publish(claims)
    if status in ("accepted", "duplicate"):
        return HTMLResponse(_DONE_PAGE, headers=NO_STORE)
    if status == "unavailable":
        retry_after = {"Retry-After": str(gateway.settings.retry_after_s)}
        return _text(503, "Please try again in a moment.\n", retry_after)
    return _text(500, "Your request could not be recorded.\n")
