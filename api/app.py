"""The HTTP application: thin over the ledger — validate, authorise, call, map errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ce_ledger import collector
from ce_ledger.config import Settings, secret_key
from api import problems
from ce_ledger.bootstrap import Services, build_services
from api.exact import ExactRoute
from api.headers import WorkbenchHeaders
from api.ratelimit import RateLimits
from api.routers import filings, inspections, ledger, platform, professionals, programmes, providers, units, verdicts
from api.workbench import pages
from api.workbench.pages.common import UnitNames
from api.workbench.pdf import PdfForms
from api.workbench.uploads import Uploads
from api.workbench.session import session_key

MAX_BODY_BYTES = 2 * 1024 * 1024  # a full batch of 1,000 completions is about 250 KB
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a spreadsheet uploaded in the workbench (the importer has its own limits)


DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def serve_docs_offline(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts and styles served by this app, from the
    fastapi-offline package (FastAPI's docs: "Self-hosting JavaScript and CSS for docs")."""
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} · API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} · API",
                              redoc_js_url="/docs-assets/redoc.standalone.js", redoc_favicon_url="/docs-assets/favicon.png",
                              with_google_fonts=False)


def use_services(app: FastAPI, services: Services | None) -> None:
    """The services the app's next start uses (and does not close); None: its own, from settings."""
    app.state.given_services = services


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The app; ``services`` may be given (tests), else built from settings in the lifespan.

    Given services are read from ``app.state.given_services`` at each start (``use_services``):
    one app serves many tests' lifespans in turn. FastAPI builds an app's routes on its first
    request (about 0.15 s of CPU), which a new app per test paid again every time."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        given = app.state.given_services
        own = given is None
        # A server never waits for a rebuild: `ce-ledger serve` starts one beside it when needed.
        app.state.services = given or build_services(settings or Settings(), rebuild_now=False)
        app.state.access = app.state.services.access
        settings_ = app.state.services.settings
        app.state.rate_limits = RateLimits(settings_)
        app.state.uploads = Uploads(settings_.uploads)
        app.state.pdf_forms = PdfForms(settings_.form_cache, workers=settings_.pdf_workers, queue=settings_.pdf_queue,
                                       seconds=settings_.pdf_seconds, memory_mib=settings_.pdf_memory_mib)
        app.state.unit_names = UnitNames(app.state.services.view)
        app.state.workbench_key = session_key(secret_key(app.state.services.settings))
        collector.settle()  # the tail of reads was the collector rescanning start-up state
        try:
            yield
        finally:
            app.state.pdf_forms.close()
            await app.state.services.view.aclose()  # the async read pool lives on this event loop
            if own:
                app.state.services.close()

    app = FastAPI(
        docs_url=None, redoc_url=None,  # served below from packaged assets: a government intranet has no CDN
        title="ce-ledger",
        version="0.1.0",
        summary="Continuing-education credits of professional technical staff (宁人社函〔2019〕148号)",
        lifespan=lifespan,
    )
    use_services(app, services)
    app.add_middleware(problems.BodyLimit, limit=MAX_BODY_BYTES, larger={"/workbench/import": MAX_UPLOAD_BYTES})
    app.add_middleware(WorkbenchHeaders)
    app.add_middleware(collector.Tending)
    app.router.route_class = ExactRoute
    problems.install(app)
    for module in (professionals, platform, verdicts, ledger, providers, programmes, units, inspections, filings):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.include_router(pages.site)
    problems.document_body_problems(app)

    serve_docs_offline(app)

    @app.get("/v1/ping", tags=["meta"])
    def ping() -> dict[str, str]:
        """Liveness, and the trivial endpoint the API benchmark compares against."""
        return {"status": "ok"}

    return app
