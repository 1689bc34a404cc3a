#!/usr/bin/env python
"""Distil an LJSpeech-style training corpus from the Piper teacher voice.

A shell over ``ttscli.lab.corpus.build``; ``--help`` lists the options.
"""

from ttscli.lab.corpus.build import main

if __name__ == "__main__":
    raise SystemExit(main())
