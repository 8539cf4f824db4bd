"""What the app's HTTP server adds to the Gradio app: a request body limit, security headers and `/health`.

- `BodyLimit` refuses a request body past the limit with 413 and a sentence, before the body is
  read: from its Content-Length at once, or when a chunked body grows past it. File uploads
  (Gradio's `/upload` route) are held to the per-file limit by Gradio instead.
- `SecurityHeaders` adds a Content-Security-Policy that keeps images and media to the app's own
  origin: a model's or a user's Markdown cannot make readers' browsers fetch a remote URL.
- `health` is the JSON a load balancer, a Space or a person polls: status, uptime, device memory,
  the loaded models and their state, whether remote models' servers answered their last check
  (checked in the background), queue depth, running requests, and the rolling figures
  (p50/p95 time to first token, tok/s, error rate).

Both are plain ASGI/Starlette pieces: `app.py` hands them to the server Gradio starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from playground.memory import format_bytes, used
from playground.monitor import Monitor
from playground.registry import Registry

UPLOAD_SUFFIX = "/upload"


def body_too_large(size: int | None, limit: int, upload_limit: int | None) -> str:
    what = f"The request body is {format_bytes(size)}" if size is not None else "The request body is too large"
    uploads = f" (file uploads excepted: up to {format_bytes(upload_limit)} each)" if upload_limit else ""
    return f"{what}; this app accepts at most {format_bytes(limit)}{uploads}. Send less at a time."


class BodyLimit:
    """ASGI middleware: a body past `limit` bytes gets 413 and a JSON `detail` sentence; nothing else changes."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None):
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith(UPLOAD_SUFFIX):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send, int(declared))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:  # a chunked body that grew past the limit (the response has not started yet)
            await self._refuse(scope, receive, send, None)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int | None) -> None:
        detail = body_too_large(size, self.limit, self.upload_limit)
        await JSONResponse({"detail": detail, "error": detail}, status_code=413,
                           headers={"Connection": "close"})(scope, receive, send)


class TooLarge(Exception):
    pass


# Images, audio and video load only from the app itself (uploads, examples, data: and blob: URLs), so a
# message with ![x](https://elsewhere/?d=...) cannot make a reader's browser call elsewhere; forms post only
# back to the app.
CONTENT_SECURITY_POLICY = "img-src 'self' data: blob:; media-src 'self' data: blob:; form-action 'self'"


class SecurityHeaders:
    """ASGI middleware: every response carries `CONTENT_SECURITY_POLICY` (and no MIME sniffing)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                headers += [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                            (b"x-content-type-options", b"nosniff")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def health(registry: Registry, monitor: Monitor, queue_depth: Callable[[], int]) -> dict[str, Any]:
    memory = registry.loader.memory()
    models = [{"model": s.key, "precision": str(s.precision), "state": s.status, "in_use": s.in_use,
               "footprint_bytes": s.footprint, "idle_s": None if s.idle_s is None else round(s.idle_s, 1)}
              for s in registry.snapshot()]
    remote = [{"model": spec.key, "base_url": spec.remote.base_url, "answers": reach.answers, "detail": reach.detail}
              for spec in registry.catalog if spec.remote is not None and registry.remotes is not None
              for reach in [registry.remotes.reachability(spec)]]
    return {
        "status": "ok",
        "uptime_s": round(monitor.uptime_s(), 1),
        "device": {"kind": memory.kind, "name": memory.name, "free_bytes": memory.free, "total_bytes": memory.total},
        "process_rss_bytes": used("cpu"),
        "models": models,
        "remote": remote,
        "queue_depth": queue_depth(),
        "running": monitor.running,
        **monitor.figures(),
    }


def health_route(registry: Registry, monitor: Monitor, queue_depth: Callable[[], int]) -> Route:
    """GET /health: the JSON above, computed in a worker thread (probing memory may take a moment)."""

    async def endpoint(request: Request) -> Response:
        body = await run_in_threadpool(health, registry, monitor, queue_depth)
        return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})

    return Route("/health", endpoint, methods=["GET"])

