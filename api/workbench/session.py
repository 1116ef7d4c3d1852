"""Signing in to the workbench: a token once, then a signed session cookie.

The cookie holds the token's SHA-256 (never the token) and a per-session CSRF secret,
signed with a key derived from the ledger's secret key; it is HttpOnly and
SameSite=Strict, and every form carries the CSRF value as well. Pages enforce the same
roles as the API, because the session stands for the same principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ce_ledger.access import Principal, token_digest

COOKIE = "ce_ledger_session"
MAX_AGE = 8 * 3600  # a working day


class SignedOut(Exception):
    """No valid session: the page sends the browser to sign in."""


def _serializer(request: Request) -> URLSafeTimedSerializer:
    key = request.app.state.workbench_key
    return URLSafeTimedSerializer(key, salt="ce-ledger/workbench-session/v1")


def session_key(secret_key: bytes) -> bytes:
    return hmac.new(secret_key, b"ce-ledger/workbench/v1", hashlib.sha256).digest()


def sign_in(request: Request, response: Response, token: str) -> Principal | None:
    access = request.app.state.access
    principal = access.principal(token)
    if principal is None:
        return None
    # A session of its own on the server: signing out ends it there, so a copied cookie dies with it.
    session_id = access.start_session(token_digest(token), timedelta(seconds=MAX_AGE), by=principal.actor)
    value = _serializer(request).dumps({"s": session_id, "c": secrets.token_urlsafe(16)})
    response.set_cookie(COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="strict",
                        secure=not request.app.state.services.settings.plain_http, path="/workbench")
    return principal


def sign_out(request: Request, response: Response) -> None:
    try:
        session = _session(request)
    except SignedOut:
        session = None
    if session is not None:
        who = request.app.state.access.session_principal(session["s"])
        request.app.state.access.end_session(session["s"], by=who.actor if who else "unknown")
    response.delete_cookie(COOKIE, path="/workbench")


def _session(request: Request) -> dict:
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignedOut
    try:
        return _serializer(request).loads(raw, max_age=MAX_AGE)
    except BadSignature:
        raise SignedOut from None


def current(request: Request) -> Principal:
    session = _session(request)
    found = request.app.state.access.session_principal(session["s"]) if "s" in session else None
    if found is None:
        raise SignedOut
    return found


def csrf_token(request: Request) -> str:
    return _session(request)["c"]


def check_csrf(request: Request, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, csrf_token(request)):
        raise HTTPException(403, "表单已过期或来自别处（CSRF 校验未通过）：请刷新页面后重试")
