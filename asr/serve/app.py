"""The recognition server: an ASGI app (FastAPI) around one loaded Recognizer.

    app = create_app(recognizer, ServeSettings(token="..."))

HTTP routes (asr/serve/http.py): POST /v1/transcribe, POST /v1/subtitles, GET /v1/model,
GET /healthz; the websocket /v1/stream (asr/serve/ws.py); the web page at / (static files, no
build step). Requests run in a bounded thread pool off the event loop, and concurrent requests'
audio is decoded in shared batches (asr/serve/pool.py); when the pool and its queue are full, a
request gets 503 with Retry-After instead of waiting. Every bad
input is a 4xx JSON {"error": one line}; /openapi.json documents each route, parameter and answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from asr import __version__
from asr.forked import Forked
from asr.recognizer import Recognizer
from asr.serve import http, ws
from asr.serve.errors import ApiError
from asr.serve.options import first_error
from asr.serve.pool import Batcher, Pool
from asr.serve.service import ServeSettings, Service
from asr.slots import SlotTagger

__all__ = ["ServeSettings", "create_app"]
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("asr.serve")


def create_app(
    rec: Recognizer,
    settings: ServeSettings = ServeSettings(),
    tagger: SlotTagger | None = None,
    decoders: Forked | None = None,
) -> FastAPI:
    """The server around `rec` (loaded once; shared by every request); with `tagger`, every
    result also carries its filled slots and the page shows them as a booking form. With
    `decoders` (forked processes, opened by the caller before the server starts), audio is
    decoded in those processes; without, in the request threads."""
    app = FastAPI(
        title="asr",
        version=__version__,
        description="Speech recognition: a file in, its transcript out (docs/serving.md).",
        docs_url="/docs",
        redoc_url=None,
    )
    if decoders is not None and decoders.pool is None:
        raise ValueError("create_app: decoders has no processes (enter its with block first, on a CPU, on Linux)")
    slots = decoders.jobs if decoders is not None else settings.workers  # a batch at a time each
    pool, batcher = Pool(slots, settings.queue), Batcher(rec, slots, decoders=decoders)
    app.state.service = Service(rec, settings, pool, batcher, tagger)
    _add_error_handlers(app)
    app.include_router(http.router)
    app.include_router(http.v1)
    app.add_api_websocket_route("/v1/stream", ws.stream)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error a JSON {"error": ...} with its status; a bug's traceback stays in the log."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _error(400, first_error(exc.errors()))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)  # the traceback stays in the server log
        return _error(500, "internal error (logged on the server)")


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, saying what the server answers: a value that fails validation is a 400
    {"error": ...} (the handler above), never FastAPI's 422 body."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path in schema["paths"].values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
