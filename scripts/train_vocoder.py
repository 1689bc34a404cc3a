#!/usr/bin/env python
"""Fit the latent vocoder: the teacher's VITS decoder behind a mel-to-latent adapter.

A shell over ``ttscli.lab.train.vocoder``; ``--help`` lists the options.
"""

from ttscli.lab.train.vocoder import main

if __name__ == "__main__":
    raise SystemExit(main())
