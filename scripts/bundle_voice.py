#!/usr/bin/env python
"""Copy a trained voice into the package as the bundled default, in fp16.

A shell over ``ttscli.lab.train.bundle``; ``--help`` lists the options.
"""

from ttscli.lab.train.bundle import main

if __name__ == "__main__":
    raise SystemExit(main())
