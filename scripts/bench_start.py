#!/usr/bin/env python
"""Split a cold `ttscli fs2 "Hello world." --out h.wav` into imports, loading, synthesis.

A shell over ``ttscli.lab.evaluation.bench_start``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.bench_start import main

if __name__ == "__main__":
    raise SystemExit(main())
