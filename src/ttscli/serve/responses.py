"""What every protocol answers with when a request cannot be served as asked."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ttscli.serve.voices import RequestError


class Busy(Exception):
    """Every slot and queue place is taken: 503 with Retry-After, or an error event."""


async def read_json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestError("the body must be a JSON object")
    return data


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)


def busy_response() -> web.Response:
    return web.Response(
        status=503,
        headers={"Retry-After": "2"},
        content_type="application/json",
        text=json.dumps({"error": {"message": "busy: every slot is taken, retry"}}),
    )
