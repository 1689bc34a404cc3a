#!/usr/bin/env python
"""Learn per-phoneme durations for a corpus without a teacher (monotonic alignment search).

A shell over ``ttscli.lab.align.mas``; ``--help`` lists the options.
"""

from ttscli.lab.align.mas import main

if __name__ == "__main__":
    raise SystemExit(main())
