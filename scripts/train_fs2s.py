#!/usr/bin/env python
"""Give a trained FastSpeech 2 model its FastSpeech 2s waveform decoder, and train it.

A shell over ``ttscli.lab.train.fs2s``; ``--help`` lists the options.
"""

from ttscli.lab.train.fs2s import main

if __name__ == "__main__":
    raise SystemExit(main())
