"""The web app: FastAPI on uvicorn, its middleware (upload cap, per-address limit, security
headers), errors as JSON, and the service's life (database, warm lanes, queue)."""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from autograder.assignment import load_assignment
from autograder.config import CourseConfig
from autograder.coordinator.live import LiveGrader
from autograder.service import attempts
from autograder.service.auth import ApiError
from autograder.service.db import Database
from autograder.service.limits import Limits
from autograder.service.queue import Dispatcher
from autograder.service.security import HEADERS, PAGE_CSP

HERE = Path(__file__).parent
MULTIPART_SLACK = 64 << 10   # the form's own bytes around the notebook


@dataclass
class Service:
    cfg: CourseConfig
    db: Database
    limits: Limits
    grader: LiveGrader
    dispatcher: Dispatcher
    course: attempts.Course


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, f"the upload is larger than the {limit / 2**20:g} MiB limit; clear large outputs "
                              "(Kernel > Restart & Clear Output) and submit again")


async def _send_json(send, status: int, body: dict, headers: dict | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
           (b"connection", b"close")]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    raw += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """ASGI middleware in front of everything: the per-address rate limit, the upload cap (a
    declared length over it is refused before a byte of the body is read; a chunked body is cut
    off where it passes it) and the security headers on every answer."""

    def __init__(self, app, limit_bytes: int, limits: Limits):
        self.app, self.limit, self.limits = app, limit_bytes, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown", 0))[0]
        try:
            self.limits.address(client)
        except ApiError as exc:
            return await _send_json(send, exc.status, {"error": exc.message}, exc.headers)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _send_json(send, 400, {"error": "Content-Length is not a number"})
            if int(declared) > self.limit:
                return await _send_json(send, 413, {"error": BodyTooLarge(self.limit - MULTIPART_SLACK).message})
        received = 0
        started = False
        began = time.perf_counter()

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit - MULTIPART_SLACK)
            return message

        async def secured_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", PAGE_CSP.encode()))
                extra.append((b"server-timing", f"app;dur={(time.perf_counter() - began) * 1000:.1f}".encode()))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        try:
            await self.app(scope, capped_receive, secured_send)
        except BodyTooLarge as exc:
            if not started:
                await _send_json(send, 413, {"error": exc.message})


def _error_response(request: Request, status: int, message: str, headers: dict | None = None):
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    from autograder.service.pages import error_page

    return HTMLResponse(error_page(status, message), status_code=status, headers=headers)


def create_app(cfg: CourseConfig, *, lanes: int | None = None, scheduler: str | None = None,
               paused: bool | None = None, debug: bool = False) -> FastAPI:
    """The service for the course `cfg`; its lanes start with the app (in the background: uploads
    are accepted and queued while they warm up)."""
    db = Database(cfg.service_db_url)
    grader = LiveGrader(cfg, cfg.service.lanes if lanes is None else lanes, scheduler)
    assignments = {aid: load_assignment(cfg, aid) for aid in grader.gradable()}
    course = attempts.Course(cfg, assignments, db)
    limits = Limits(cfg.service)
    service = Service(cfg, db, limits, grader, Dispatcher(cfg, db, grader, debug), course)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if paused is not None:
            service.dispatcher.set_paused(paused)
        restored = attempts.recover(course)
        if restored:
            print(f"service: {restored} attempts found in history folders without their database row; queued", flush=True)
        attempts.republish(course)
        service.dispatcher.start()
        try:
            yield
        finally:
            service.dispatcher.stop()
            grader.close()
            db.close()

    app = FastAPI(title="autograder submissions", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.service = service

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return _error_response(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:3])
        return _error_response(request, 422, f"invalid request: {where}")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        return _error_response(request, 500, "internal error; nothing was lost, try again")

    from autograder.service import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    limit = int(cfg.service.max_upload_mb * 2**20) + MULTIPART_SLACK
    app.add_middleware(Guard, limit_bytes=limit, limits=limits)
    return app


def serve(cfg: CourseConfig, host: str | None = None, port: int | None = None, **options) -> None:
    """Run the service until interrupted (make serve)."""
    import uvicorn

    host = host or cfg.service.host
    port = port or cfg.service.port
    app = create_app(cfg, **options)
    print(f"service: http://{host}:{port}/ for {cfg.course_id}; database {_safe_url(cfg.service_db_url)}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10,
                limit_concurrency=1000, backlog=2048)


def _safe_url(url: str) -> str:
    """A database URL without its password, for the terminal."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
