"""The one exception type that reaches the user as a message rather than a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class UserError(Exception):
    """A problem the user can fix: bad input, missing file, no sound device.

    The CLI prints ``error: <message>`` on one line and exits with ``exit_code``.
    Programming errors must not use this class; they should keep their traceback.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn every way reading a text file can fail into one line naming ``what``."""
    try:
        yield
    except FileNotFoundError:
        raise UserError(f"{what}: file not found") from None
    except IsADirectoryError:
        raise UserError(f"{what}: is a folder, expected a text file") from None
    except UnicodeDecodeError:
        raise UserError(f"{what}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{what}: cannot read ({exc.strerror})") from None


def script_exit_code(run: Callable[[], int]) -> int:
    """Run a script's body: a UserError becomes ``error: <message>`` on stderr and its exit
    code, as the CLI reports it."""
    try:
        return run()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
