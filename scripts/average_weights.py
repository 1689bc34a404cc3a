#!/usr/bin/env python
"""A shell over ``python -m ttscli.lab average-weights`` (``--help`` lists its options)."""

from ttscli.lab.steps import run

if __name__ == "__main__":
    raise SystemExit(run("average-weights"))
