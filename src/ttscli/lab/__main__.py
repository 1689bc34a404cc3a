"""``python -m ttscli.lab STEP [options]``: every step of the lab behind one entry point."""

from ttscli.lab.steps import main

if __name__ == "__main__":
    raise SystemExit(main())
