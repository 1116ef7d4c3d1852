"""Response headers set in one place.

Security headers on every workbench response (pages, redirects, errors): no framing (clickjacking),
no content-type sniffing, no referrer leaving the site, and no script.
A plain ASGI wrapper: it costs nothing on the API's paths, which it passes through untouched.

And the header that ends a connection after a batch's answer (``ONE_BATCH_A_CONNECTION``)."""

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

# A batch (up to 1,000 items) holds a server process for tens of milliseconds, and with
# ``--workers N`` a keep-alive connection stays with the process that accepted it. Two clients
# sending batches at a time had both connections accepted by one process in about a third of the
# runs measured (docs/scale.md, twelfth session): one core recorded both while the other idled, a
# third less throughput. Closed after each answer, the client's next batch is a new connection,
# taken by whichever process is free to accept it (a busy one is answering its batch); a connect
# on a batch of hundreds of items costs nothing that shows.
ONE_BATCH_A_CONNECTION = {"connection": "close"}


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
