"""What the operator chose when starting the server; fixed for its lifetime."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ttscli.util.errors import UserError

DEFAULT_MAX_CHARS = 20_000


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    insecure_no_auth: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    max_streams: int = 4
    """Requests synthesised at once; more wait in the queue."""
    max_queued: int = 32
    """Requests waiting beyond ``max_streams``; more are refused with 503."""
    client_timeout: float = 20.0
    """A client that reads nothing for this long is dropped, freeing its slot."""
    idle_timeout: float = 60.0
    """A WebSocket that sends nothing for this long (before its end) is closed."""
    cors: str | None = None
    chunk_buffer: int = 8
    """Chunks computed ahead of a client that has not read them yet."""

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated engine or cannot work."""
        if not 0 < self.port < 65536:
            raise UserError(f"--port {self.port}: must be between 1 and 65535")
        if self.max_chars < 1 or self.max_streams < 1 or self.max_queued < 0:
            raise UserError("--max-chars and --max-streams must be at least 1")
        if not is_loopback(self.host) and not self.token and not self.insecure_no_auth:
            raise UserError(
                f"--host {self.host} is reachable from other machines: give --token (or "
                "TTSCLI_TOKEN), or --insecure-no-auth if that is really what you want"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
