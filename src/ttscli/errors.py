"""The one exception type that reaches the user as a message rather than a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: bad input, missing file, no sound device.

    The CLI prints ``error: <message>`` on one line and exits with ``exit_code``.
    Programming errors must not use this class; they should keep their traceback.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
