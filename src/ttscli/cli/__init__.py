"""The ``ttscli`` command line: one module per command, flags and printing only."""


def main() -> None:
    """The console script (``ttscli``); the app is imported only when it runs."""
    from ttscli.cli.app import main as run

    run()
