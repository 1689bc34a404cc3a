#!/usr/bin/env python
"""Does a mel vocoder render the F0 its mel asks for? PSOLA-shifted recordings through it.

A shell over ``ttscli.lab.evaluation.vocoder_f0``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.vocoder_f0 import main

if __name__ == "__main__":
    raise SystemExit(main())
