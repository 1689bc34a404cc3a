#!/usr/bin/env python
"""How `ttscli serve` performs: first audio, throughput under load, memory, client start.

A shell over ``ttscli.lab.evaluation.bench_serve``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.bench_serve import main

if __name__ == "__main__":
    raise SystemExit(main())
