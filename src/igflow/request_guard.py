"""Checks every request passes before any route sees it: no NUL characters in any text, no duplicate
JSON keys.

One place for every route, so that no schema or form can forget it. A NUL character is never valid
text in igflow: SQLite would store it and PostgreSQL refuses it with a misleading error, so it is
refused here, with the same message on both. A JSON object that names a key twice would otherwise be
read last-wins, silently; it is refused too. Form fields (urlencoded and multipart text parts) are
checked by :func:`form_text_problem`, called from the permission dependency every route declares.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL = "\x00"
NUL_MESSAGE = "must not contain NUL characters (\\u0000)"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first text (a key or a string value) holding a NUL character."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if NUL in key:
                return here
            found = _nul_path(item, here)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def json_body_problem(body: bytes) -> tuple[str, str] | None:
    """(field, message) when a JSON body names a key twice or holds a NUL; None otherwise.

    A body that is not JSON at all is left to the route's own parser, which reports it.
    """
    try:
        parsed = json.loads(body, object_pairs_hook=_pairs)
    except _DuplicateKey as exc:
        return exc.key, f"{exc.key}: the key appears more than once in the JSON object; give it once"
    except (ValueError, RecursionError):
        return None
    where = _nul_path(parsed, "")
    if where is not None:
        return where or "request", f"{where or 'request'}: {NUL_MESSAGE}"
    return None


def query_problem(query_string: bytes) -> tuple[str, str] | None:
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if NUL in key or NUL in value:
            name = key.replace(NUL, "") or "query"
            return name, f"{name}: {NUL_MESSAGE}"
    return None


def form_text_problem(items: Iterable[tuple[str, Any]]) -> tuple[str, str] | None:
    """(field, message) for the first text field of a form holding a NUL (uploaded files may)."""
    for key, value in items:
        if NUL in key or (isinstance(value, str) and NUL in value):
            name = key.replace(NUL, "") or "form"
            return name, f"{name}: {NUL_MESSAGE}"
    return None


def form_problem(form: FormData) -> tuple[str, str] | None:
    return form_text_problem(form.multi_items())


def _refuse(field: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": message, "field": field}, status_code=422)


class RequestGuardMiddleware:
    """Pure ASGI middleware: refuses NUL in the path, the query string and JSON bodies, and duplicate
    JSON keys, with a 422 naming the field. JSON bodies are read in full (the app's body-size limit,
    outside this middleware, still caps them) and replayed to the route unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if NUL in scope.get("path", ""):
            await _refuse("path", f"path: {NUL_MESSAGE}")(scope, receive, send)
            return
        problem = query_problem(scope.get("query_string", b""))
        if problem is not None:
            await _refuse(*problem)(scope, receive, send)
            return
        content_type = ""
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
                break
        if not _is_json(content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before sending the body: nothing to check.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        problem = json_body_problem(body) if body else None
        if problem is not None:
            await _refuse(*problem)(scope, receive, send)
            return
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send
        )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
