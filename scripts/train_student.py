#!/usr/bin/env python
"""Distil the teacher's generator into a faster student with an inverse-STFT head.

A shell over ``ttscli.lab.train.student``; ``--help`` lists the options.
"""

from ttscli.lab.train.student import main

if __name__ == "__main__":
    raise SystemExit(main())
