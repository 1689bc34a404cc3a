#!/usr/bin/env python
"""A shell over ``python -m ttscli.lab train-listener`` (``--help`` lists its options)."""

from ttscli.lab.steps import run

if __name__ == "__main__":
    raise SystemExit(run("train-listener"))
