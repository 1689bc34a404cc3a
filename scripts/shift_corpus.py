#!/usr/bin/env python
"""Add PSOLA pitch-shifted copies of a corpus's utterances, for training ``--pitch``.

A shell over ``ttscli.lab.corpus.pitch_shifted``; ``--help`` lists the options.
"""

from ttscli.lab.corpus.pitch_shifted import main

if __name__ == "__main__":
    raise SystemExit(main())
