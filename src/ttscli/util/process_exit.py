"""End the ``ttscli`` process without torch's shutdown.

When a process that imported torch exits normally, the C runtime runs the static
destructors of torch's shared libraries. They only free memory the operating system is
about to take back anyway, but running them pages in parts of those large libraries that
were never touched: on a laptop CPU that costs a sizeable fraction of a second and more than
a hundred megabytes of peak memory, after the work is done. A short command such as
``ttscli fs2 "Hello world."`` pays it on every run.

So the command line finishes what Python promises at exit (waiting for non-daemon threads,
``atexit`` handlers such as Ray's shutdown, collecting garbage so temporary files are
removed, flushing output) and then leaves with ``os._exit``, which skips the C
destructors. Processes that never imported torch (``--help``, a server client) exit the
ordinary way: they have nothing to skip.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import os
import sys
import threading
from typing import NoReturn


def exit_status(code: object) -> int:
    """The status ``SystemExit(code)`` would give: None is 0, an int is itself, anything
    else is printed to stderr and is 1 (Python's own rule)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def flush_c_streams() -> None:
    """Flush what C libraries wrote through stdio; ``os._exit`` would drop it."""
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no C runtime (Windows)
        ctypes.CDLL(None).fflush(None)


def exit_process(code: object) -> NoReturn:
    """Exit with ``code`` (as ``sys.exit`` would), skipping torch's C teardown if loaded."""
    status = exit_status(code)
    if "torch" not in sys.modules:
        raise SystemExit(status)
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to deliver
            stream.flush()
    flush_c_streams()
    os._exit(status)
