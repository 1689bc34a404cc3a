#!/usr/bin/env python
"""Benchmark Kyutai TTS: load, first-audio latency, real-time factor, batched throughput.

A shell over ``ttscli.lab.evaluation.bench_speak``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.bench_speak import main

if __name__ == "__main__":
    raise SystemExit(main())
