#!/usr/bin/env python
"""A shell over ``python -m ttscli.lab check-judge-level`` (``--help`` lists its options)."""

from ttscli.lab.steps import run

if __name__ == "__main__":
    raise SystemExit(run("check-judge-level"))
