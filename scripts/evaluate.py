#!/usr/bin/env python
"""Score voices with one WER judge and one DNSMOS judge for every row.

A shell over ``ttscli.lab.evaluation.evaluate``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
