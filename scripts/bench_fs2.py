#!/usr/bin/env python
"""Where `ttscli fs2`'s synthesis time goes, stage by stage, beside the teacher and espeak-ng.

A shell over ``ttscli.lab.evaluation.bench_fs2``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.bench_fs2 import main

if __name__ == "__main__":
    raise SystemExit(main())
