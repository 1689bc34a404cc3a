"""The voice shipped inside the package: it speaks offline and obeys the prosody flags.

These run on the real bundled assets (no fixture model), so they fail if the package is
built without them or if a retrained voice stops following --pitch/--energy/--duration.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import run_cli
from tests.pitch_measure import median_f0
from ttscli.fs2.checkpoint import CONFIG_FILE
from ttscli.fs2.config import FS2Config
from ttscli.fs2.engine import ASSETS_DIR, FS2Engine
from ttscli.fs2.io import load_dataclass
from ttscli.fs2.model import Controls
from ttscli.util.errors import UserError

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it quietly walks away."
BUNDLED_CONFIG = load_dataclass(FS2Config, ASSETS_DIR / CONFIG_FILE)
KINDS = ["fs2"] + (["fs2s"] if BUNDLED_CONFIG.wave_decoder is not None else [])


@pytest.fixture(scope="module", params=KINDS)
def engine(request: pytest.FixtureRequest) -> FS2Engine:
    return FS2Engine.load(None, kind=request.param, device="cpu")


@pytest.fixture(scope="module", params=KINDS)
def exact_engine(request: pytest.FixtureRequest) -> FS2Engine:
    """float32 throughout, for comparisons finer than bfloat16's rounding (which
    ``test_inference_shapes`` bounds on its own)."""
    return FS2Engine.load(None, kind=request.param, device="cpu", precision="float32")


def speak(engine: FS2Engine, text: str = SENTENCE, **controls: float) -> np.ndarray:
    return np.concatenate([chunk.audio for chunk in engine.stream(text, Controls(**controls))])


def loudness_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-9))


PITCH_SENTENCES = (
    SENTENCE,
    "Our neighbours planted seven apple trees along the river last spring.",
    "When the meeting ended, everyone went home through the heavy rain.",
    "She asked whether the library would stay open late on Friday evenings.",
    "A small boat drifted slowly past the harbour lights before dawn.",
)
"""Several sentences, because one is a noisy reading of the voice's pitch: the median F0 of a
few seconds of speech moves with a handful of frames, so the judge is the median over
sentences, as ``scripts/evaluate.py --pitch`` reports it."""


def test_pitch_goes_through_the_model() -> None:
    """The bundled voice moves F0 with its pitch embedding and its vocoder's F0-driven
    source, not by resampling the audio around the model."""
    assert BUNDLED_CONFIG.variance.pitch_control == "embedding"
    assert BUNDLED_CONFIG.variance.pitch_range is not None


def test_a_renderer_without_a_harmonic_source_resamples_instead() -> None:
    """This voice's mels show a new pitch only in part: with Griffin-Lim (or any vocoder
    that is not handed F0) --pitch takes the resampling route rather than go unheard."""
    griffin_lim = FS2Engine.load(None, kind="fs2", vocoder="griffin-lim", device="cpu")
    assert griffin_lim._resamples(Controls(pitch=1.5))
    assert not griffin_lim._resamples(Controls())
    for kind in KINDS:
        own = FS2Engine.load(None, kind=kind, device="cpu")
        assert not own._resamples(Controls(pitch=1.5)), kind


def test_a_checkpoint_whose_own_vocoder_renders_f0_resamples_under_griffin_lim(
    tmp_path: Path,
) -> None:
    """Without an FS2s decoder, the voice's need for an F0 renderer is read from the
    vocoder stored beside it: the same voice, trained the documented way, minus FS2s."""
    import shutil
    from dataclasses import replace

    from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
    from ttscli.fs2.model import FastSpeech2
    from ttscli.fs2.vocoders import bundled_vocoder_has_source

    bundled = load_checkpoint(ASSETS_DIR)
    mel_only = FastSpeech2(
        replace(bundled.config, wave_decoder=None), bundled.variance_adaptor.stats
    )
    state = {k: v for k, v in bundled.state_dict().items() if not k.startswith("wave_decoder.")}
    mel_only.load_state_dict(state)
    save_checkpoint(mel_only, tmp_path)
    for name in ("vocoder.json", "vocoder.safetensors"):
        shutil.copy(ASSETS_DIR / name, tmp_path / name)

    assert bundled_vocoder_has_source(tmp_path)
    assert not bundled_vocoder_has_source(tmp_path / "no such folder")
    griffin_lim = FS2Engine.load(tmp_path, vocoder="griffin-lim", device="cpu")
    assert griffin_lim._resamples(Controls(pitch=1.5))
    own = FS2Engine.load(tmp_path, device="cpu")
    assert not own._resamples(Controls(pitch=1.5))


@pytest.mark.parametrize("scale", [0.7, 0.8, 1.25, 1.5])
def test_pitch_scales_median_f0_and_keeps_length(engine: FS2Engine, scale: float) -> None:
    """Within 5 % of the asked ratio, and not a sample longer or shorter: the embedding
    route keeps every frame where the model put it."""
    ratios, lengths = [], []
    for text in PITCH_SENTENCES:
        normal = speak(engine, text=text)
        shifted = speak(engine, text=text, pitch=scale)
        ratios.append(
            median_f0(shifted, engine.sample_rate) / median_f0(normal, engine.sample_rate)
        )
        lengths.append(len(shifted) - len(normal))
    assert float(np.median(ratios)) == pytest.approx(scale, rel=0.05), [f"x{r:.3f}" for r in ratios]
    assert lengths == [0] * len(lengths)


def test_energy_changes_loudness_in_the_asked_direction(engine: FS2Engine) -> None:
    quiet, normal, loud = (loudness_db(speak(engine, energy=e)) for e in (0.5, 1.0, 1.5))
    assert quiet < normal - 0.5, (quiet, normal)
    assert loud > normal + 0.5, (loud, normal)


def test_duration_2_doubles_length(engine: FS2Engine) -> None:
    ratio = len(speak(engine, duration=2.0)) / len(speak(engine))
    assert ratio == pytest.approx(2.0, rel=0.1)


def test_speaks_in_a_fresh_process_without_network(tmp_path: Path) -> None:
    """`ttscli fs2 "Hello world." --out hello.wav` as a newcomer runs it, sockets disabled."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import socket

            def no_network(*args, **kwargs):
                raise OSError("network access attempted")

            socket.socket.connect = no_network
            socket.socket.connect_ex = no_network
            socket.create_connection = no_network
            socket.getaddrinfo = no_network
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), *sys.path]))
    out = tmp_path / "hello.wav"
    result = run_cli("fs2", "Hello world.", "--out", str(out), "--device", "cpu", env=env)
    assert result.returncode == 0, result.stderr.decode()
    audio, rate = sf.read(str(out), dtype="float32")
    assert rate == 22050 and 0.5 < len(audio) / rate < 3.0
    assert np.abs(audio).max() > 0.05


@pytest.mark.parametrize("scale", ["0.6", "1.7"])
def test_pitch_outside_the_trained_range_is_a_one_line_error(tmp_path: Path, scale: str) -> None:
    """The voice follows --pitch over the span of its pitch-shifted training copies and
    refuses the rest rather than render what it never learnt."""
    low, high = BUNDLED_CONFIG.variance.pitch_range or (0.0, 0.0)
    out = tmp_path / "kept.wav"
    out.write_bytes(b"earlier take")
    result = run_cli("fs2", "Hello.", "--pitch", scale, "--out", str(out), "--device", "cpu")
    assert result.returncode != 0
    message = result.stderr.decode().strip()
    assert f"--pitch {scale}" in message and f"between {low:g} and {high:g}" in message
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert out.read_bytes() == b"earlier take"


def test_stream_vocodes_a_first_window_then_the_rest_seamlessly(exact_engine: FS2Engine) -> None:
    """A sentence's first audio is out after the acoustic model and one short window; the
    windows join into what vocoding the whole sentence at once gives.

    Only the last frames may differ: the vocoder hears the line's end padded to a rounded
    length (``ttscli.fs2.shape_buckets``), which is not the same for the last window as for
    the whole line, so there the samples move a little, far below the voice."""
    from ttscli.fs2.engine import CONTEXT_FRAMES, FIRST_WINDOW_FRAMES
    from ttscli.text.frontend import text_to_phonemes

    chunks = list(exact_engine.stream(SENTENCE))
    hop = exact_engine.config.audio.hop_length
    assert len(chunks) == 2
    assert len(chunks[0].audio) == FIRST_WINDOW_FRAMES * hop
    assert chunks[0].text and chunks[1].text is None
    whole = exact_engine.synthesize([text_to_phonemes(SENTENCE)])[0].audio
    joined = np.concatenate([c.audio for c in chunks])
    assert len(joined) == len(whole)
    assert chunks[0].sentence_seconds == pytest.approx(len(whole) / exact_engine.sample_rate)
    tail = CONTEXT_FRAMES * hop
    assert len(whole) > tail + FIRST_WINDOW_FRAMES * hop  # the seam is outside the tail
    assert float(np.max(np.abs(joined[:-tail] - whole[:-tail]))) <= 1e-4  # float rounding
    peak = float(np.max(np.abs(whole)))
    assert float(np.max(np.abs(joined[-tail:] - whole[-tail:]))) <= 0.01 * peak  # -40 dB


LONG_SENTENCE = (
    "When the committee finally met in the old hall on the hill, after many weeks of "
    "letters, delays and quiet arguments about money, roads, schools and the river, "
    "nobody expected that the youngest member, a shy clerk from the county office, "
    "would stand up first and read, slowly and clearly, the whole plan that everyone "
    "else had somehow forgotten to bring with them that morning"
)


def test_long_sentence_is_vocoded_in_bounded_windows_that_join_seamlessly(
    exact_engine: FS2Engine,
) -> None:
    """Memory follows the window, not the sentence: no chunk (and no generator call) is
    longer than a window, and the windows join into one pass over the whole sentence."""
    from ttscli.fs2.engine import WINDOW_FRAMES
    from ttscli.text.frontend import text_to_phonemes

    hop = exact_engine.config.audio.hop_length
    chunks = list(exact_engine.stream(LONG_SENTENCE))
    assert len(chunks) >= 3 and chunks[1].text is None
    assert max(len(c.audio) for c in chunks) <= WINDOW_FRAMES * 5 // 4 * hop
    phonemes = text_to_phonemes(LONG_SENTENCE)
    acoustic = exact_engine.run_acoustic([phonemes], Controls())
    frames = int(acoustic.output.frame_lengths[0])
    assert frames > 2 * WINDOW_FRAMES
    with torch.inference_mode():
        one_pass = exact_engine._vocode(acoustic, slice(0, 1), 0, frames)[0].clamp(-1, 1).numpy()
    joined = np.concatenate([c.audio for c in chunks])
    batch = exact_engine.synthesize([phonemes])[0].audio
    assert len(joined) == len(batch) == len(one_pass)
    assert float(np.max(np.abs(joined - one_pass))) <= 1e-3
    assert float(np.max(np.abs(batch - one_pass))) <= 1e-3


def test_help_states_the_pitch_range_the_bundled_voice_accepts() -> None:
    """`ttscli fs2 --help` says which --pitch the bundled voice takes; the voice agrees."""
    import re

    import typer

    from ttscli.cli.app import app

    command = typer.main.get_command(app).commands["fs2"]  # type: ignore[attr-defined]
    pitch = next(p for p in command.params if p.name == "pitch")
    stated = re.search(r"([0-9.]+)-([0-9.]+) for the bundled voice", pitch.help)
    assert stated, pitch.help
    engine = FS2Engine.load(device="cpu")
    field = next(f for f in engine.fields() if f.name == "pitch")
    assert (float(stated[1]), float(stated[2])) == (field.minimum, field.maximum)
    engine.options({"pitch": field.minimum})
    engine.options({"pitch": field.maximum})
    with pytest.raises(UserError):
        engine.options({"pitch": field.maximum + 0.01})
    with pytest.raises(UserError):
        engine.options({"pitch": field.minimum - 0.01})
