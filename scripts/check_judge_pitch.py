#!/usr/bin/env python
"""Does DNSMOS mark a voice down for being low? espeak-ng's own pitch setting, no shifter.

A shell over ``ttscli.lab.evaluation.judge_pitch``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.judge_pitch import main

if __name__ == "__main__":
    raise SystemExit(main())
