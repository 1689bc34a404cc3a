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
    heartbeat: float = 30.0
    """Seconds between the pings a WebSocket client is sent; one that has not answered
    within half of it is dropped (a peer that vanished without closing)."""
    cors: str | None = None
    chunk_buffer: int = 8
    """Chunks computed ahead of a client that has not read them yet."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names (besides the bound address and localhost) a request may be sent to."""
    http: bool = True
    wyoming: str | None = None
    """``tcp://HOST:PORT`` for Home Assistant's Wyoming protocol, or None."""
    log_level: str = "info"

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated engine or cannot work."""
        if not 0 < self.port < 65536:
            raise UserError(f"--port {self.port}: must be between 1 and 65535")
        if self.max_chars < 1 or self.max_streams < 1 or self.max_queued < 0:
            raise UserError("--max-chars and --max-streams must be at least 1")
        if not 1 <= self.heartbeat <= 3600:
            raise UserError(f"--heartbeat {self.heartbeat:g}: between 1 and 3600 seconds")
        if not is_loopback(self.host) and not self.token and not self.insecure_no_auth:
            raise UserError(
                f"--host {self.host} is reachable from other machines: give --token (or "
                "TTSCLI_TOKEN), or --insecure-no-auth if that is really what you want"
            )
        if not self.http and self.wyoming is None:
            raise UserError("--no-http needs --wyoming tcp://HOST:PORT: nothing would be served")
        if self.log_level not in LOG_LEVELS:
            raise UserError(f"--log-level {self.log_level}: one of {', '.join(LOG_LEVELS)}")
        if self.wyoming is not None:
            host, _ = wyoming_address(self.wyoming)
            if not is_loopback(host) and not self.insecure_no_auth:
                raise UserError(
                    f"--wyoming {self.wyoming}: Wyoming has no authentication, so it listens "
                    "on loopback only (tcp://127.0.0.1:10200); --insecure-no-auth opens it "
                    "to other machines (then keep them on a trusted network)"
                )

    def host_names(self) -> set[str]:
        """The Host header names a request may carry (DNS rebinding is refused)."""
        names = {"localhost", "127.0.0.1", "::1", *self.allowed_hosts}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host)
        return {name.lower() for name in names}


LOG_LEVELS = ("debug", "info", "warning", "error")


def wyoming_address(uri: str) -> tuple[str, int]:
    """HOST and PORT of ``tcp://HOST:PORT`` (the only transport served)."""
    if not uri.startswith("tcp://"):
        raise UserError(f"--wyoming {uri}: expected tcp://HOST:PORT")
    host, sep, port = uri.removeprefix("tcp://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--wyoming {uri}: expected tcp://HOST:PORT")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
