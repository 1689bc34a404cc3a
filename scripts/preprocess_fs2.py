#!/usr/bin/env python
"""Turn an LJSpeech-style corpus with alignments into FastSpeech 2 training features.

A shell over ``ttscli.lab.train.features``; ``--help`` lists the options.
"""

from ttscli.lab.train.features import main

if __name__ == "__main__":
    raise SystemExit(main())
