"""413 for request bodies over the limit, answered as JSON like every other error.

Starlette's own limit answers in plain text when the declared length is too large; this one
refuses a too-large ``Content-Length`` before the app runs, and stops a chunked body as soon as
it passes the limit (the app's exception handlers then answer with ``detail``).
"""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "request body too large"


class BodyLimitMiddleware:
    """Refuse HTTP request bodies larger than ``max_bytes``.

    Args:
        app: the wrapped application.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what is received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    detail = f"{TOO_LARGE}: at most {self.max_bytes} bytes"
                    await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                    return
                break
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    f"{TOO_LARGE}: at most {self.max_bytes} bytes",
                )
            return message

        await self.app(scope, counted, send)
