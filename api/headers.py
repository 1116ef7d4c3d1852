"""Security headers on every workbench response (pages, redirects, errors): no framing (clickjacking),
no content-type sniffing, no referrer leaving the site, and no script.
A plain ASGI wrapper: it costs nothing on the API's paths, which it passes through untouched."""

from __future__ import annotations

from typing import Any

HEADERS = [
    (b"x-frame-options", b"DENY"),
    # The pages carry their own styles and no script at all.
    (b"content-security-policy", b"default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'none'; "
                                 b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class WorkbenchHeaders:
    def __init__(self, app: Any, prefix: str = "/workbench"):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
