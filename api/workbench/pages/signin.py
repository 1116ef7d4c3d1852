"""Signing in and out; the site's root leads to the workbench."""

from __future__ import annotations

from urllib.parse import urlparse
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ce_ledger.access import Principal
from api.workbench import session
from api.workbench.pages.common import (
    pages, render, router,
)


# -- signing in ---------------------------------------------------------------------------


@router.get("", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/workbench/", status_code=307)


site = APIRouter(include_in_schema=False)


@site.get("/")
def site_root() -> RedirectResponse:
    """The server's address leads people to the workbench (the API lives under /v1, its docs at /docs)."""
    return RedirectResponse("/workbench/", status_code=307)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "sign_in.html")


def _same_site(request: Request) -> bool:
    """Whether a form post came from the workbench's own pages. There is no session yet to
    carry a CSRF value at sign-in (login CSRF: another site signing a visitor in as itself),
    so the browser's own word is checked: Sec-Fetch-Site, else Origin against Host."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlparse(origin).netloc == request.headers.get("host")


@router.post("/sign-in")
def sign_in(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    if not _same_site(request):
        return render(request, "sign_in.html", 403, problem="拒绝：登录请求来自其他网站")
    response = RedirectResponse("/workbench/", status_code=303)
    if session.sign_in(request, response, token) is None:
        return render(request, "sign_in.html", 401, problem="令牌无效：请核对后重新输入")
    return response


@router.post("/sign-out")
@pages
def sign_out(request: Request, who: Principal, csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    response = RedirectResponse("/workbench/sign-in", status_code=303)
    session.sign_out(request, response)
    return response
