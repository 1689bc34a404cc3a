#!/usr/bin/env python
"""Time `ttscli fs2` against Piper as whole commands: "Hello world." and batches of lines.

A shell over ``ttscli.lab.evaluation.bench_batch``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.bench_batch import main

if __name__ == "__main__":
    raise SystemExit(main())
