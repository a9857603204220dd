"""Console sign-in: an API key of scope ``read`` once, then a signed session cookie.

The cookie holds the key's public id, signed and time-stamped with the store's console secret
(``itsdangerous``); the key itself never leaves the sign-in form. Every request checks that the
key is still valid, so revoking it (``vitals keys revoke``) ends its sessions within the key
cache's time. The cookie is ``HttpOnly`` and ``SameSite=Lax`` (no cross-site form can post with
it), and ``Secure`` when the console is reached over HTTPS.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vitals.serving.api.auth import KeyInfo, KeyVerifier
from vitals.serving.store import console_secret

COOKIE = "vitals_console"
LOGIN_PATH = "/console/login"
_SALT = "vitals-console-session"


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Sessions:
    """Issues and reads signed session cookies.

    Args:
        secret: the signing secret (the store's, shared by every server process).
        max_age_seconds: how long a session lasts.
    """

    def __init__(self, secret: str, max_age_seconds: float) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def issue(self, key: KeyInfo) -> str:
        """A cookie value naming ``key``."""
        return self._signer.dumps({"key": key.id})

    def key_id(self, cookie: str | None) -> str | None:
        """The key id of a valid, unexpired cookie, else ``None``."""
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
            return None
        return data.get("key") if isinstance(data, dict) else None

    def set_cookie(self, response: Response, request: Request, key: KeyInfo) -> None:
        """Start a session for ``key`` on ``response``."""
        response.set_cookie(
            COOKIE,
            self.issue(key),
            max_age=int(self.max_age_seconds),
            path="/console",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


async def get_sessions(request: Request) -> Sessions:
    """The app's session signer, made on first use from the store's console secret."""
    state = request.app.state
    sessions = getattr(state, "console_sessions", None)
    if sessions is None:
        secret = await run_in_threadpool(console_secret, state.store.engine)
        hours = state.settings.console.session_hours
        sessions = state.console_sessions = Sessions(secret, hours * 3600)
    return sessions


SessionsDep = Annotated[Sessions, Depends(get_sessions)]


async def signed_in(request: Request, sessions: SessionsDep) -> KeyInfo:
    """The key of this browser's session; :class:`SignInRequired` when there is none.

    A session whose key was revoked, or lost the ``read`` scope, counts as none.
    """
    key_id = sessions.key_id(request.cookies.get(COOKIE))
    key = None
    if key_id is not None:
        verifier: KeyVerifier = request.app.state.keys
        key = await run_in_threadpool(verifier.verify_id, key_id)
    if key is None or not key.allows("read"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return key


ConsoleUser = Annotated[KeyInfo, Depends(signed_in)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


def to_sign_in(request: Request, exc: Exception) -> Response:
    """Send a request without a session to the sign-in page (htmx: by ``HX-Redirect``)."""
    assert isinstance(exc, SignInRequired)
    location = f"{LOGIN_PATH}?next={quote(exc.next_url, safe='')}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)
