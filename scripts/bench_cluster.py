#!/usr/bin/env python
"""What `--cluster ray` costs and gains: workers vs one process, driver cost and memory.

A shell over ``ttscli.lab.evaluation.bench_cluster``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.bench_cluster import main

if __name__ == "__main__":
    raise SystemExit(main())
