"""A stand-in for the model hub on a loopback port that counts the connections it gets.

"Fails fast" is checked by what the code does, not by a stopwatch: offline it must make no
connection at all, and against a hub that drops every connection it must give up after its
one probe instead of retrying with back-off. A stopwatch would fail on a loaded machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class LoopbackHub:
    url: str
    connections: list[bytes] = field(default_factory=list)
    """The first bytes of each connection (the request line), in order."""


@contextmanager
def dropping_hub() -> Iterator[LoopbackHub]:
    """Accepts each connection, reads the request, and closes it without an answer."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    hub = LoopbackHub(f"http://127.0.0.1:{server.getsockname()[1]}")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    hub.connections.append(conn.recv(4096).split(b"\r\n", 1)[0])
                except OSError:
                    hub.connections.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
