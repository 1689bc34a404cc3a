"""What every command pays before it does anything: the CLI's own imports stay light."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "moshi", "ray", "aiohttp", "ttscli.kyutai.engine", "ttscli.fs2.engine")
SOME = ("rich.progress", "ttscli.run.client")
"""What only some runs use: a batch's progress bar, the client of ``--server``."""


def test_the_cli_imports_no_engine_or_heavy_package() -> None:
    """torch, moshi and each engine's own modules load only when a model is built, and
    what only some runs use only when they run, so ``--help``, flag errors and ``ttscli fs2``
    up to its model's load never pay for them."""
    code = (
        "import sys\nfrom ttscli.cli.app import main\n"
        f"print(','.join(m for m in {HEAVY + SOME!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at startup: {result.stdout.strip()}"
