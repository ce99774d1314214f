"""Who is asking: sign-in tokens (stored as hashes), the session cookie, CSRF, and the route guards.

A token is 32 random bytes, so a plain SHA-256 is enough to store it (no dictionary to guess from);
the database never holds a token itself. A route names its guard in its signature:
`user: User = Depends(current_user)` or `Depends(instructor)`.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from autograder.service.db import Token

COOKIE = "autograder_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
INSTRUCTOR = "instructor"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiError(Exception):
    """An answer with an error code and {"error": message} (or the error page)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass(frozen=True)
class User:
    subject: str        # the student id, or "instructor"
    role: str           # student | instructor
    name: str
    token_digest: str   # the rate limit's key; never the token itself
    csrf: str           # the form token of this session
    via_cookie: bool

    @property
    def is_instructor(self) -> bool:
        return self.role == INSTRUCTOR

    def require_csrf(self, sent: str) -> None:
        if not hmac.compare_digest(str(sent or ""), self.csrf):
            raise ApiError(403, "this form has expired or came from another site; reload the page and try again")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(token: str) -> str:
    """The session's CSRF token: derived from the sign-in token, which a cross-site page never knows."""
    return hashlib.sha256(b"csrf\0" + token.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Holder:
    subject: str
    role: str
    name: str
    digest: str


CACHE_S = 10.0   # a reissued token stops working within this long
_KNOWN: dict[str, tuple[float, Holder]] = {}


def lookup(db, token: str) -> Holder | None:
    """Who holds `token`, from its hash; kept for CACHE_S, so that following an attempt every second
    costs no query."""
    if not token or len(token) > 200:
        return None
    key = digest(token)
    kept = _KNOWN.get(key)
    if kept and kept[0] > time.monotonic():
        return kept[1]
    with db.session() as s:
        row = s.scalars(select(Token).where(Token.digest == key)).first()
    if row is None:
        _KNOWN.pop(key, None)
        return None
    holder = Holder(row.subject, row.role, row.name, row.digest)
    if len(_KNOWN) > 10000:
        _KNOWN.clear()
    _KNOWN[key] = (time.monotonic() + CACHE_S, holder)
    return holder


def _presented(request: Request) -> tuple[str, bool]:
    """(token, came from the cookie)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return (value.strip(), False) if scheme.lower() == "bearer" else ("", False)
    return request.cookies.get(COOKIE, ""), True


def authenticate(request: Request, check_csrf: bool = True) -> User:
    """The caller, or 401. A cookie session must also pass the CSRF check on anything but a read
    (the X-CSRF-Token header here; a page's form field is checked by its route, `check_csrf=False`)."""
    token, via_cookie = _presented(request)
    service = request.app.state.service
    row = lookup(service.db, token) if token else None
    if row is None:
        service.limits.failed(request.client.host if request.client else "unknown")
        if not token:
            raise ApiError(401, "sign in: send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
        raise ApiError(401, "this token is not valid (mistyped, or reissued since)", {"WWW-Authenticate": "Bearer"})
    user = User(row.subject, row.role, row.name, row.digest, csrf_for(token), via_cookie)
    service.limits.request(user)
    if via_cookie and request.method not in SAFE_METHODS and check_csrf:
        check_origin(request)
        user.require_csrf(request.headers.get(CSRF_HEADER, ""))
    return user


def check_origin(request: Request) -> None:
    """A form post must come from a page of this service (when the browser says where it came from)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise ApiError(403, "this form was posted from another site")


async def current_user(request: Request) -> User:
    """The guard of every API route (async: a known token is answered from memory, no thread hop)."""
    return authenticate(request)


async def instructor(request: Request) -> User:
    user = authenticate(request)
    if not user.is_instructor:
        raise ApiError(403, "instructors only")
    return user
