"""What a foreign web page could make a browser send, refused when no token protects the
server. A page on any site can point a browser at 127.0.0.1: it can open a WebSocket
(browsers send its Origin), post a "simple" cross-site form (text/plain, with a JSON body),
or use a name of its own that resolves to 127.0.0.1 so that the browser lets it read the
answers (DNS rebinding: the Host header is then that name). Local servers such as Jupyter
refuse all three; so does this one. With a token, the token is the protection."""

from __future__ import annotations

from aiohttp import web

from ttscli.serve.config import ServeConfig


def host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8000`` -> ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def refusal(request: web.Request, config: ServeConfig) -> tuple[int, str] | None:
    """The status and reason to refuse ``request`` with, or None to serve it."""
    if config.token:
        return None
    name = host_name(request.headers.get("Host", ""))
    if name not in config.host_names():
        return 421, (
            f"this server does not answer to the name {name[:60]!r} (start it with "
            "--allowed-host NAME to allow one)"
        )
    origin = request.headers.get("Origin")
    if origin is not None:
        own = f"{request.scheme}://{request.headers.get('Host', '')}"
        allowed = {own.lower(), (config.cors or "").lower()} - {""}
        if origin.lower() not in allowed:
            shown = origin[:80]
            return 403, f"requests from the web page at {shown} are refused (see --cors)"
    if request.method == "POST" and request.content_type != "application/json":
        return 415, "send the request as Content-Type: application/json"
    return None
