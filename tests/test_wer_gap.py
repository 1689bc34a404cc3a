"""check-wer-gap: a corpus of the bundled voice's own speech, so every row that hands the
voice only what it would have predicted must hear exactly the recordings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from ttscli.fs2.engine import FS2Engine
from ttscli.lab.corpus.folder import Alignment, MetadataRow, write_alignments, write_metadata
from ttscli.lab.steps import run
from ttscli.text.frontend import text_to_phonemes

pytest.importorskip("pocketsphinx")

REPO = Path(__file__).resolve().parent.parent
SENTENCES = ["The cat sat on the mat.", "Nobody knew where the old road went."]


@pytest.fixture(scope="module", params=["fs2", "fs2s"])
def own_corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str]:
    """The bundled voice's speech through one decoder as a teacher corpus, with its
    preprocess features, and that decoder's name."""
    kind = request.param
    root = tmp_path_factory.mktemp(f"own-corpus-{kind}")
    corpus, features = root / "corpus", root / "features"
    (corpus / "wavs").mkdir(parents=True)
    engine = FS2Engine.load(kind=kind, device="cpu")
    alignments, rows = [], []
    for n, text in enumerate(SENTENCES, 1):
        phonemes = text_to_phonemes(text)
        synthesis = engine.synthesize([phonemes])[0]
        uid = f"own_{n:05d}"
        # Float samples, so that the recordings are the voice's audio to the last bit.
        wav = corpus / "wavs" / f"{uid}.wav"
        sf.write(wav, synthesis.audio, engine.sample_rate, subtype="FLOAT")
        hop = engine.config.audio.hop_length
        durations = tuple(int(d) for d in synthesis.durations)
        alignments.append(Alignment(uid, tuple(phonemes), durations, sum(durations) * hop))
        rows.append(MetadataRow(uid, text, text))
    write_alignments(corpus, alignments)
    write_metadata(corpus, rows)
    assert (
        run("preprocess", ["--corpus", str(corpus), "--out", str(features), "--workers", "1"]) == 0
    )
    return corpus, features, kind


def check_wer_gap(corpus: Path, features: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    script = REPO / "scripts" / "check_wer_gap.py"
    command = [sys.executable, str(script), "--corpus", str(corpus), "--features", str(features)]
    return subprocess.run([*command, *extra], capture_output=True, text=True, check=False)


def table_cells(stdout: str) -> dict[str, list[str]]:
    """Row name -> its other cells, from the printed table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) >= 4 and cells[1].replace(".", "").isdigit():
            rows[cells[0]] = cells[1:]
    return rows


def gap_rows(stdout: str) -> dict[str, tuple[float, float]]:
    """Row name -> (WER, audio seconds), from the printed table."""
    return {name: (float(c[0]), float(c[2])) for name, c in table_cells(stdout).items()}


def test_rows_that_change_nothing_hear_the_recordings(
    own_corpus: tuple[Path, Path, str],
) -> None:
    corpus, features, kind = own_corpus
    # Without --model it judges the decoder the voice speaks with: the bundled one's FS2s.
    result = check_wer_gap(corpus, features, *(["--model", kind] if kind == "fs2" else []))
    assert result.returncode == 0, result.stderr
    assert f"voice bundled ({kind})" in result.stdout
    rows = gap_rows(result.stdout)
    recordings = rows["the recordings (teacher)"]
    # The recordings are the voice's own output: its row, and its row given the durations
    # it predicted anyway, are the same audio and so the same transcript.
    assert rows["the voice"] == recordings
    assert rows["the voice, recorded durations"] == recordings
    assert rows["the voice, recorded durations, pitch and energy"][1] == recordings[1]
    vocoded = "the recordings' mels and F0 through the voice's vocoder"
    if kind == "fs2":
        # The mel path has one row more: the recordings' mels, other audio of the same length.
        assert len(rows) == 7, result.stdout
        assert rows[vocoded][1] == recordings[1]
    else:
        assert len(rows) == 6 and vocoded not in rows, result.stdout


def test_sound_is_judged_at_one_level_for_every_row(own_corpus: tuple[Path, Path, str]) -> None:
    corpus, features, kind = own_corpus
    pytest.importorskip("speechmos")
    model = ["--model", kind] if kind == "fs2" else []
    scores = {}
    for level in ("-26", "-50"):
        result = check_wer_gap(corpus, features, *model, "--dnsmos-level", level, "--limit", "1")
        assert result.returncode == 0, result.stderr
        assert f"DNSMOS heard every row at {level} dBFS RMS." in result.stdout
        rows = table_cells(result.stdout)
        # WER, its gap, seconds, then OVRL, SIG and SIG's gap to the recordings.
        assert all(len(cells) == 6 for cells in rows.values()), result.stdout
        scores[level] = {name: (float(c[3]), float(c[4])) for name, c in rows.items()}
    at_26 = scores["-26"]
    recordings, voice = at_26["the recordings (teacher)"], at_26["the voice"]
    assert all(1.0 <= score <= 5.0 for score in recordings)
    # The voice's row renders the recordings' own audio again (up to its float rounding).
    assert voice == pytest.approx(recordings, abs=0.005)
    # Every row is heard at the level asked for, not as written: quiet audio scores lower.
    for name, (ovrl, _) in at_26.items():
        assert scores["-50"][name][0] < ovrl, name


def test_dnsmos_level_out_of_range_is_refused(own_corpus: tuple[Path, Path, str]) -> None:
    corpus, features, _ = own_corpus
    result = check_wer_gap(corpus, features, "--dnsmos-level", "0")
    assert result.returncode == 2
    assert "--dnsmos-level: give an RMS level in dBFS from -60 to -3" in result.stderr


def test_features_missing_for_a_line_is_a_one_line_error(
    own_corpus: tuple[Path, Path, str], tmp_path: Path
) -> None:
    corpus, _, _ = own_corpus
    result = check_wer_gap(corpus, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: --features {tmp_path}: no own_00001.npz (run preprocess on the corpus)"
    ]
