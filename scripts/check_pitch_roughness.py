#!/usr/bin/env python
"""How much the voice's F0 moves from frame to frame against its recordings, and what adding
movement (``pitch_roughness``) does to the judges.

A shell over ``ttscli.lab.evaluation.pitch_roughness``; ``--help`` lists the options.
"""

from ttscli.lab.evaluation.pitch_roughness import main

if __name__ == "__main__":
    raise SystemExit(main())
