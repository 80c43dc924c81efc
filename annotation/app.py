"""The annotation web app (Starlette, served by uvicorn): pages, JSON API, static assets.

Security: every page and API route except the login page and ``POST /api/login`` needs a session
(a random cookie token whose hash is in the store; ``HttpOnly``, ``SameSite=Strict``). Every
state-changing request (``POST``) must carry the session's CSRF token in ``X-CSRF-Token`` and, when
the browser sends one, an ``Origin`` equal to the server's own. Annotators only ever read their own
work (blind mode: another's document answers 404, as a missing one does); adjudication and export
are for admins. Request bodies are JSON of at most ``MAX_BODY`` bytes. Document text reaches the
page only as data (the scripts set ``textContent``), and a strict Content-Security-Policy forbids
inline script.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from annotation import formats
from annotation.store import KINDS, Conflict, StoreError, Store, User
from gonerd.errors import GonerdError
from gonerd.label.merge import record_offsets
from gonerd.schema import ENTITY_TYPES, MISC_EXAMPLES, TYPE_DESCRIPTIONS

STATIC = Path(__file__).with_name("static")
COOKIE = "gonerd_session"
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 64 * 1024
EXTENSIONS = {"jsonl": "jsonl", "conll": "conll", "label-studio": "json", "doccano": "jsonl"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
                               " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request, User, Store], Awaitable[Response]]


class HttpError(Exception):
    """An error answer: HTTP ``status`` and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _session(request: Request, store: Store) -> tuple[User, str] | None:
    token = request.cookies.get(COOKIE)
    return store.session(token) if token else None


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host')}":
        raise HttpError(403, "cross-origin request refused")


async def _body(request: Request) -> dict[str, Any]:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise HttpError(413, f"request body over {MAX_BODY} bytes")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HttpError(415, "send application/json")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HttpError(413, f"request body over {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise HttpError(400, "body is not valid JSON") from e
    if not isinstance(body, dict):
        raise HttpError(400, "body must be a JSON object")
    return body


def _guarded(handler: Handler, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` behind the session check, the CSRF check on POST, the role check, and error mapping."""
    async def endpoint(request: Request) -> Response:
        store: Store = request.app.state.store
        try:
            # a session read is a fraction of a millisecond in WAL mode (readers never wait for the
            # writer), so it runs on the event loop rather than paying for a thread hop
            found = _session(request, store)
            if found is None:
                raise HttpError(401, "log in first")
            user, csrf = found
            if request.method == "POST":
                _check_origin(request)
                sent = request.headers.get(CSRF_HEADER, "")
                if not secrets.compare_digest(sent.encode(), csrf.encode()):
                    raise HttpError(403, "missing or wrong CSRF token")
            if admin and user.role != "admin":
                raise HttpError(403, "admins only")
            return await handler(request, user, store)
        except HttpError as e:
            return _error(e.status, str(e))
        except Conflict as e:
            return _error(409, str(e), version=e.version, spans=e.spans)
        except StoreError as e:
            return _error(e.status, str(e))
        except GonerdError as e:
            return _error(400, str(e))
    return endpoint


def _int(body: dict[str, Any], name: str, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise HttpError(400, f"field {name!r} must be an integer")
    return value


def _kind(value: Any) -> str:
    kind = value or "annotation"
    if kind not in KINDS:
        raise HttpError(400, f"unknown kind {kind!r}")
    return kind


# --- pages ----------------------------------------------------------------------------------------

def _page(name: str, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        found = _session(request, request.app.state.store)
        if found is None:
            return RedirectResponse("/login", status_code=303)
        if admin and found[0].role != "admin":
            return _error(403, "admins only")
        return FileResponse(STATIC / name, media_type="text/html")
    return page


async def login_page(request: Request) -> Response:
    """The login form (the one page open without a session)."""
    return FileResponse(STATIC / "login.html", media_type="text/html")


# --- API --------------------------------------------------------------------------------------------

async def login(request: Request) -> Response:
    """``{name, password}`` → session cookie and ``{name, role, csrf}``; 401 on a wrong password."""
    store: Store = request.app.state.store
    try:
        _check_origin(request)
        body = await _body(request)
    except HttpError as e:
        return _error(e.status, str(e))
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return _error(400, "give name and password")
    user = await run_in_threadpool(store.authenticate, name, password)
    if user is None:
        return _error(401, "wrong name or password")
    token, csrf = await run_in_threadpool(store.create_session, user)
    response = JSONResponse({"name": user.name, "role": user.role, "csrf": csrf})
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/")
    return response


async def logout(request: Request, user: User, store: Store) -> Response:
    """End the session."""
    await run_in_threadpool(store.end_session, request.cookies[COOKIE])
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE, path="/")
    return response


async def me(request: Request, user: User, store: Store) -> Response:
    """The logged-in user and the CSRF token the page must send back."""
    _, csrf = _session(request, store)
    return JSONResponse({"name": user.name, "role": user.role, "csrf": csrf})


async def schema(request: Request, user: User, store: Store) -> Response:
    """The label set with its descriptions and the MISC examples from ``gonerd.schema``."""
    return JSONResponse({"labels": list(ENTITY_TYPES), "descriptions": TYPE_DESCRIPTIONS,
                         "misc_examples": MISC_EXAMPLES})


async def queue(request: Request, user: User, store: Store) -> Response:
    """The user's documents with their status, and counts per status."""
    items = await run_in_threadpool(store.queue, user)
    progress = {s: sum(1 for i in items if i["status"] == s) for s in ("todo", "done", "skipped")}
    return JSONResponse({"items": items, "progress": progress})


def _document_payload(store: Store, doc_id: int) -> dict[str, Any]:
    doc = store.document(doc_id)
    offsets = [x for pair in record_offsets(doc) for x in pair]
    return {"id": doc["id"], "key": doc["key"], "project": doc["project"], "text": doc["text"], "offsets": offsets,
            "prelabels": doc["prelabels"], "label_source": doc["label_source"]}


async def document(request: Request, user: User, store: Store) -> Response:
    """A document's text, token offsets, pre-labels and the caller's own work on it."""
    doc_id = request.path_params["doc"]
    kind = _kind(request.query_params.get("kind"))

    def load() -> dict[str, Any]:
        work = store.work(doc_id, user, kind)  # first: 404 for a document that is not the caller's
        return {**_document_payload(store, doc_id), "work": work, "kind": kind}
    return JSONResponse(await run_in_threadpool(load))


async def edit(request: Request, user: User, store: Store) -> Response:
    """One edit ``{base_version, op, start, end?, label?, kind?}`` → ``{version}``; 409 with the
    current spans when ``base_version`` is stale."""
    body = await _body(request)
    version = await run_in_threadpool(
        store.edit, request.path_params["doc"], user, _int(body, "base_version"), body.get("op"),
        _int(body, "start"), _int(body, "end", required=False), body.get("label"), _kind(body.get("kind")))
    return JSONResponse({"version": version})


async def status(request: Request, user: User, store: Store) -> Response:
    """``{base_version, status, kind?}``: mark done/skipped/todo → ``{version}``."""
    body = await _body(request)
    version = await run_in_threadpool(store.set_status, request.path_params["doc"], user,
                                      _int(body, "base_version"), body.get("status"), _kind(body.get("kind")))
    return JSONResponse({"version": version})


async def projects(request: Request, user: User, store: Store) -> Response:
    """Admin: every project with its documents (id, key) and per-annotator progress."""
    def load() -> list[dict[str, Any]]:
        out = []
        for name in store.projects():
            docs = [{"id": d, "key": store.document(d)["key"]} for d in store.document_ids(name)]
            out.append({"name": name, "documents": docs, "progress": store.progress(name)})
        return out
    return JSONResponse({"projects": await run_in_threadpool(load)})


async def adjudication(request: Request, user: User, store: Store) -> Response:
    """Admin: a document with every annotator's spans and the final version."""
    doc_id = request.path_params["doc"]

    def load() -> dict[str, Any]:
        return {**_document_payload(store, doc_id), "annotators": store.all_work(doc_id),
                "work": store.work(doc_id, user, "final"), "kind": "final"}
    return JSONResponse(await run_in_threadpool(load))


async def export(request: Request, user: User, store: Store) -> Response:
    """Admin: ``?project=&format=jsonl|conll|label-studio|doccano&source=final|prelabels|<annotator>``
    as a download."""
    project = request.query_params.get("project", "")
    fmt = request.query_params.get("format", "jsonl")
    source = request.query_params.get("source", "final")
    if fmt not in formats.FORMATS:
        raise HttpError(400, f"unknown format {fmt!r}")

    def render() -> str:
        import tempfile

        docs = formats.labeled_documents(store.project_work(project), source)
        with tempfile.TemporaryDirectory() as tmp:
            return formats.write_documents(docs, Path(tmp) / "out", fmt).read_text(encoding="utf-8")
    text = await run_in_threadpool(render)
    filename = f"{project}-{source}.{EXTENSIONS[fmt]}"
    return Response(text, media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def not_found(request: Request, exc: Exception) -> Response:
    """JSON 404 for unknown routes."""
    return _error(404, "not found")


def create_app(store: Store) -> Starlette:
    """The app serving ``store``."""
    routes = [
        Route("/", _page("annotate.html")),
        Route("/adjudicate", _page("adjudicate.html", admin=True)),
        Route("/login", login_page),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", _guarded(logout), methods=["POST"]),
        Route("/api/me", _guarded(me)),
        Route("/api/schema", _guarded(schema)),
        Route("/api/queue", _guarded(queue)),
        Route("/api/documents/{doc:int}", _guarded(document)),
        Route("/api/documents/{doc:int}/edits", _guarded(edit), methods=["POST"]),
        Route("/api/documents/{doc:int}/status", _guarded(status), methods=["POST"]),
        Route("/api/projects", _guarded(projects, admin=True)),
        Route("/api/adjudication/{doc:int}", _guarded(adjudication, admin=True)),
        Route("/api/export", _guarded(export, admin=True)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found},
                    middleware=[Middleware(SecurityHeaders)])
    app.state.store = store
    return app


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)
        await self.app(scope, receive, send_with_headers)
