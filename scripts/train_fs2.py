#!/usr/bin/env python
"""Train FastSpeech 2 (and optionally the 2s waveform decoder) on preprocessed features.

A shell over ``ttscli.lab.train.fs2``; ``--help`` lists the options.
"""

from ttscli.lab.train.fs2 import main

if __name__ == "__main__":
    raise SystemExit(main())
