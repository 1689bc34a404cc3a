#!/usr/bin/env python
"""Compare F0 trackers (Praat, pYIN, WORLD Harvest and DIO) on a folder of wavs.

A shell over ``ttscli.lab.evaluation.f0_check``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.f0_check import main

if __name__ == "__main__":
    raise SystemExit(main())
