"""Model-level behaviour: shapes, prosody controls, CWT, checkpoints, vocoders."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fs2_fixture import FRAMES_PER_PHONEME, make_tiny_checkpoint, make_tiny_model
from ttscli.fs2 import cwt
from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.hifigan import HiFiGANConfig, HiFiGANGenerator
from ttscli.fs2.model import Controls
from ttscli.fs2.vocoders import resolve_vocoder
from ttscli.util.errors import UserError

HELLO = ("HH", "AH0", "L", "OW1", "sp", "W", "ER1", "L", "D", ".")


def engine(checkpoint: Path, kind: str = "fs2") -> FS2Engine:
    return FS2Engine.load(checkpoint, kind=kind, vocoder="griffin-lim", device="cpu")


def test_audio_length_follows_predicted_durations(tiny_checkpoint: Path) -> None:
    result = engine(tiny_checkpoint).synthesize([HELLO])[0]
    assert len(result.audio) == len(HELLO) * FRAMES_PER_PHONEME * 256
    assert result.audio.dtype == np.float32 and np.abs(result.audio).max() <= 1.0


def test_batch_gives_each_utterance_its_own_length(tiny_checkpoint: Path) -> None:
    short = ("HH", "AY1", ".")
    results = engine(tiny_checkpoint).synthesize([HELLO, short])
    assert [len(r.audio) for r in results] == [
        len(HELLO) * FRAMES_PER_PHONEME * 256,
        len(short) * FRAMES_PER_PHONEME * 256,
    ]


def test_an_utterance_is_spoken_the_same_alone_and_in_a_batch(tmp_path: Path) -> None:
    """Padding must not reach the real positions through the predictors' convolutions."""
    model = make_tiny_model()
    with torch.no_grad():  # durations that depend on the neighbours, unlike the fixture's
        model.variance_adaptor.duration_predictor.linear.weight.normal_(0, 0.3)
    save_checkpoint(model, tmp_path / "ckpt")
    fs2 = engine(tmp_path / "ckpt")
    short = ("HH", "AY1", ".")
    alone = fs2.synthesize([short])[0]
    batched = fs2.synthesize([HELLO, short])[1]
    assert batched.mel.shape == alone.mel.shape
    np.testing.assert_allclose(batched.mel, alone.mel, atol=1e-4)
    np.testing.assert_allclose(batched.pitch_hz, alone.pitch_hz, rtol=1e-4)
    np.testing.assert_allclose(batched.energy, alone.energy, atol=1e-4)


@pytest.mark.parametrize("kind", ["fs2", "fs2s"])
def test_duration_scale_stretches_audio(tiny_checkpoint: Path, kind: str) -> None:
    fs2 = engine(tiny_checkpoint, kind)
    normal = fs2.synthesize([HELLO])[0]
    slow = fs2.synthesize([HELLO], Controls(duration=2.0))[0]
    fast = fs2.synthesize([HELLO], Controls(duration=0.5))[0]
    assert len(slow.audio) / len(normal.audio) == pytest.approx(2.0, rel=0.1)
    assert len(fast.audio) / len(normal.audio) == pytest.approx(0.5, rel=0.1)


def test_pitch_scale_multiplies_f0_fed_to_the_decoder(tiny_checkpoint: Path) -> None:
    fs2 = engine(tiny_checkpoint)
    base = fs2.synthesize([HELLO])[0].pitch_hz
    high = fs2.synthesize([HELLO], Controls(pitch=1.5))[0].pitch_hz
    np.testing.assert_allclose(high / base, 1.5, rtol=1e-3)


def test_energy_scale_multiplies_energy_fed_to_the_decoder(tiny_checkpoint: Path) -> None:
    fs2 = engine(tiny_checkpoint)
    base = fs2.synthesize([HELLO])[0].energy
    loud = fs2.synthesize([HELLO], Controls(energy=2.0))[0].energy
    voiced = base > 1e-3
    np.testing.assert_allclose(loud[voiced] / base[voiced], 2.0, rtol=1e-3)


def with_config(fs2: FS2Engine, **changes: object) -> FS2Engine:
    fs2.config = fs2.model.config = replace(fs2.config, **changes)
    fs2.config.validate()
    return fs2


def test_mel_variance_scale_widens_the_vocoded_mel_around_its_mean(
    tiny_checkpoint: Path,
) -> None:
    short = ("HH", "AY1", ".")
    plain = engine(tiny_checkpoint).synthesize([HELLO, short])[1]
    n_mels = plain.mel.shape[1]
    widened = with_config(engine(tiny_checkpoint), mel_variance_scale=(2.0,) * n_mels)
    result = widened.synthesize([HELLO, short])[1]  # padded in the batch: padding not counted
    np.testing.assert_allclose(result.mel.mean(0), plain.mel.mean(0), atol=1e-4)
    np.testing.assert_allclose(result.mel.std(0), 2 * plain.mel.std(0), rtol=1e-3)
    assert not np.array_equal(result.audio, plain.audio)


def test_mel_variance_scale_must_cover_every_bin() -> None:
    with pytest.raises(ValueError, match="mel_variance_scale"):
        replace(make_tiny_model().config, mel_variance_scale=(1.2, 1.3)).validate()


@pytest.mark.parametrize("kind", ["fs2", "fs2s"])
def test_resample_pitch_control_keeps_length_and_scales_reported_f0(
    tiny_checkpoint: Path, kind: str
) -> None:
    fs2 = engine(tiny_checkpoint, kind)
    fs2 = with_config(fs2, variance=replace(fs2.config.variance, pitch_control="resample"))
    base = fs2.synthesize([HELLO])[0]
    high = fs2.synthesize([HELLO], Controls(pitch=1.5))[0]
    assert len(high.audio) / len(base.audio) == pytest.approx(1.0, rel=0.05)
    assert len(high.pitch_hz) == len(high.audio) // 256
    assert np.median(high.pitch_hz) / np.median(base.pitch_hz) == pytest.approx(1.5, rel=0.05)
    # Each flag is checked on its own; the slowed-down duration (6 x 2 = 12) is not a flag.
    slow_high = fs2.synthesize([HELLO], Controls(pitch=2.0, duration=6.0))[0]
    assert len(slow_high.audio) / len(base.audio) == pytest.approx(6.0, rel=0.1)


def test_cwt_recomposes_the_pitch_contour() -> None:
    t = torch.arange(400, dtype=torch.float64)
    contour = torch.sin(t / 12) + 0.5 * torch.sin(t / 40 + 1.0)
    contour = (contour - contour.mean()) / contour.std()
    spectrogram = cwt.cwt(contour[None], 10, 256 / 22050)
    assert spectrogram.shape == (1, 400, 10)
    rebuilt = cwt.icwt(spectrogram)[0]
    assert torch.corrcoef(torch.stack([contour, rebuilt]))[0, 1] > 0.99
    assert float((rebuilt - contour).abs().mean()) < 0.1


def test_cwt_pitch_mode_runs_end_to_end(tmp_path: Path) -> None:
    checkpoint = make_tiny_checkpoint(tmp_path / "cwt", pitch_mode="cwt")
    model = load_checkpoint(checkpoint)
    assert model.variance_adaptor.pitch_predictor.outputs == 10
    fs2 = engine(checkpoint)
    result = fs2.synthesize([HELLO])[0]
    high = fs2.synthesize([HELLO], Controls(pitch=2.0))[0]
    np.testing.assert_allclose(high.pitch_hz / result.pitch_hz, 2.0, rtol=1e-3)


def test_checkpoint_round_trip_keeps_outputs(tiny_checkpoint: Path) -> None:
    reference = make_tiny_model()
    loaded = load_checkpoint(tiny_checkpoint)
    ids = torch.tensor([[5, 6, 7, 8, 2]])
    lengths = torch.tensor([5])
    with torch.no_grad():
        a = reference(ids, lengths).mel
        b = loaded(ids, lengths).mel
    torch.testing.assert_close(a, b)


def test_loading_skips_random_fills_only_while_building(tiny_checkpoint: Path) -> None:
    from ttscli.fs2.io import build_to_load

    fill = torch.nn.init.kaiming_uniform_
    loads = [threading.Thread(target=load_checkpoint, args=(tiny_checkpoint,)) for _ in range(4)]
    for load in loads:
        load.start()
    for load in loads:
        load.join()
    assert torch.nn.init.kaiming_uniform_ is fill  # loads in parallel threads restore it too
    with pytest.raises(RuntimeError):  # a failed build restores the fills too

        def broken() -> torch.nn.Module:
            raise RuntimeError("no model")

        build_to_load(broken, tiny_checkpoint / "model.safetensors")
    layer = torch.nn.Linear(64, 64)  # built afterwards: filled at random as usual
    assert float(layer.weight.std()) > 0.01


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_missing_checkpoint_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a directory"):
        load_checkpoint(tmp_path / "nope")


def test_config_mismatch_names_file_and_field(tiny_checkpoint: Path, tmp_path: Path) -> None:
    broken = _copy(tiny_checkpoint, tmp_path / "broken")
    config = json.loads((broken / "config.json").read_text())
    config["encoder"]["hidden"] = "wide"
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"config\.json: encoder\.hidden: expected an integer"):
        load_checkpoint(broken)


def test_shape_mismatch_names_the_tensor(tiny_checkpoint: Path, tmp_path: Path) -> None:
    broken = _copy(tiny_checkpoint, tmp_path / "broken")
    config = json.loads((broken / "config.json").read_text())
    config["variance"]["n_bins"] = 128
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"model\.safetensors: tensor .*embedding.* has shape"):
        load_checkpoint(broken)


def test_corrupt_weights_are_reported(tiny_checkpoint: Path, tmp_path: Path) -> None:
    broken = _copy(tiny_checkpoint, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(UserError, match="not a valid safetensors file"):
        load_checkpoint(broken)


def test_fs2s_needs_a_waveform_decoder(tmp_path: Path) -> None:
    from ttscli.fs2.checkpoint import save_checkpoint

    save_checkpoint(make_tiny_model(wave_decoder=False), tmp_path / "mel-only")
    with pytest.raises(UserError, match="no FastSpeech 2s waveform decoder"):
        FS2Engine.load(tmp_path / "mel-only", kind="fs2s", device="cpu")


def _public_hifigan_checkpoint(folder: Path, config: HiFiGANConfig) -> HiFiGANGenerator:
    """Save a generator the way the original HiFi-GAN code does: weight-normed convs,
    ``{"generator": state_dict}`` via torch.save, and a config.json beside it."""
    torch.manual_seed(1)
    generator = HiFiGANGenerator(config).eval()
    reference = HiFiGANGenerator(config).eval()
    reference.load_state_dict(generator.state_dict())
    for module in generator.modules():
        if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d):
            torch.nn.utils.weight_norm(module)
    state = generator.state_dict()
    assert any(k.endswith("weight_g") for k in state)
    folder.mkdir()
    torch.save({"generator": state}, folder / "generator_v3")
    (folder / "config.json").write_text(
        json.dumps(
            {
                "resblock": config.resblock,
                "upsample_rates": list(config.upsample_rates),
                "upsample_kernel_sizes": list(config.upsample_kernel_sizes),
                "upsample_initial_channel": config.upsample_initial_channel,
                "resblock_kernel_sizes": list(config.resblock_kernel_sizes),
                "resblock_dilation_sizes": [list(d) for d in config.resblock_dilation_sizes],
                "num_mels": 80,
                "sampling_rate": 22050,
                "segment_size": 8192,
                "learning_rate": 0.0002,
            }
        )
    )
    return reference


SMALL_V3 = HiFiGANConfig(
    resblock="2",
    upsample_rates=(8, 8, 4),
    upsample_kernel_sizes=(16, 16, 8),
    upsample_initial_channel=32,
    resblock_kernel_sizes=(3, 5, 7),
    resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
)


def test_public_hifigan_checkpoint_loads_and_matches(tmp_path: Path) -> None:
    reference = _public_hifigan_checkpoint(tmp_path / "hifigan", SMALL_V3)
    from ttscli.fs2.config import AudioConfig

    vocoder = resolve_vocoder(str(tmp_path / "hifigan" / "generator_v3"), tmp_path, AudioConfig())
    mel = torch.randn(1, 80, 12)
    with torch.no_grad():
        torch.testing.assert_close(vocoder(mel), reference(mel), rtol=1e-4, atol=1e-5)
    assert vocoder(mel).shape == (1, 12 * 256)


def test_hifigan_without_config_is_inferred_from_shapes(tmp_path: Path) -> None:
    reference = _public_hifigan_checkpoint(tmp_path / "hifigan", SMALL_V3)
    (tmp_path / "hifigan" / "config.json").unlink()
    from ttscli.fs2.config import AudioConfig

    vocoder = resolve_vocoder(str(tmp_path / "hifigan" / "generator_v3"), tmp_path, AudioConfig())
    mel = torch.randn(1, 80, 7)
    with torch.no_grad():
        torch.testing.assert_close(vocoder(mel), reference(mel), rtol=1e-4, atol=1e-5)


def test_hifigan_with_wrong_hop_is_refused(tmp_path: Path) -> None:
    from dataclasses import replace

    from ttscli.fs2.config import AudioConfig

    _public_hifigan_checkpoint(tmp_path / "hifigan", SMALL_V3)
    with pytest.raises(UserError, match="hop"):
        resolve_vocoder(
            str(tmp_path / "hifigan" / "generator_v3"),
            tmp_path,
            replace(AudioConfig(), hop_length=300),
        )


def test_pickled_code_in_a_vocoder_file_is_refused(tmp_path: Path) -> None:
    import pickle

    class Evil:
        def __reduce__(self) -> tuple:
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"generator": Evil()}))
    from ttscli.fs2.config import AudioConfig

    with pytest.raises(UserError, match="not a loadable generator checkpoint"):
        resolve_vocoder(str(path), tmp_path, AudioConfig())


def test_griffin_lim_reconstructs_a_tone() -> None:
    from ttscli.audio.dsp import MelSpec, griffin_lim, log_mel

    spec = MelSpec()
    t = torch.arange(22050) / 22050
    tone = 0.5 * torch.sin(2 * math.pi * 220 * t)
    wave = griffin_lim(log_mel(tone[None], spec), spec, n_iter=16)[0]
    spectrum = torch.fft.rfft(wave[2048:-2048]).abs()
    peak_hz = float(spectrum.argmax()) * 22050 / (len(wave) - 4096)
    assert abs(peak_hz - 220) < 5


def test_griffin_lim_handles_a_single_frame() -> None:
    from ttscli.audio.dsp import MelSpec, griffin_lim

    wave = griffin_lim(torch.full((1, 80, 1), -5.0), MelSpec(), n_iter=2)
    assert wave.shape == (1, 256)


def test_an_embedding_voice_refuses_pitch_outside_its_trained_range(tiny_checkpoint: Path) -> None:
    fs2 = engine(tiny_checkpoint)
    fs2 = with_config(fs2, variance=replace(fs2.config.variance, pitch_range=(0.7, 1.5)))
    fs2.synthesize([HELLO], Controls(pitch=1.5))  # the edge is inside
    with pytest.raises(UserError, match=r"pitch: .*between 0.7 and 1.5 .*trained to follow"):
        fs2.synthesize([HELLO], Controls(pitch=1.6))
    with pytest.raises(ValueError, match="pitch_range"):  # the range must hold 1
        with_config(fs2, variance=replace(fs2.config.variance, pitch_range=(1.2, 1.5)))


def test_scaled_dot_product_attention_matches_the_module(tiny_checkpoint: Path) -> None:
    """The fused attention path reads the same weights and gives the module's output,
    padded rows included."""
    block = engine(tiny_checkpoint).model.decoder.blocks[0].eval()
    x = torch.randn(3, 40, block.attention.embed_dim)
    mask = torch.arange(40)[None] >= torch.tensor([40, 31, 12])[:, None]
    with torch.no_grad():
        fused = block._attend(x, mask)
        expected, _ = block.attention(x, x, x, key_padding_mask=mask, need_weights=False)
    keep = ~mask
    torch.testing.assert_close(fused[keep], expected[keep], atol=1e-5, rtol=1e-4)


LONG = HELLO * 12


def configured_engine(directory: Path, **changes: float) -> FS2Engine:
    """The tiny checkpoint with ``changes`` to its config, saved and loaded fresh."""
    model = make_tiny_model()
    model = type(model)(replace(model.config, **changes), model.variance_adaptor.stats)
    model.load_state_dict(make_tiny_model().state_dict())
    save_checkpoint(model.eval(), directory)
    return engine(directory)


def roughened_engine(directory: Path, semitones: float) -> FS2Engine:
    """A checkpoint whose config asks for ``semitones`` of F0 movement, loaded fresh."""
    return configured_engine(directory, pitch_roughness=semitones)


def test_pitch_roughness_moves_the_contour_by_about_its_level(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    plain = engine(tiny_checkpoint).synthesize([LONG])[0].pitch_hz
    rough = roughened_engine(tmp_path / "rough", 0.6).synthesize([LONG])[0].pitch_hz
    moved = 12 * np.log2(rough / plain)  # semitones added to each frame
    assert np.std(moved) == pytest.approx(0.6, rel=0.2)
    assert abs(np.mean(moved)) < 0.15  # movement around the contour, not a shift of it
    # Averaged over neighbouring frames: a slow movement, not sample-to-sample noise.
    assert np.corrcoef(moved[:-1], moved[1:])[0, 1] > 0.4


def test_pitch_roughness_is_the_same_alone_in_a_batch_in_every_run_and_at_every_pitch(
    tmp_path: Path,
) -> None:
    fs2 = roughened_engine(tmp_path / "rough", 0.6)
    short = ("HH", "AY1", ".")
    alone = fs2.synthesize([short])[0]
    batched = fs2.synthesize([LONG, short])[1]
    np.testing.assert_allclose(batched.pitch_hz, alone.pitch_hz, rtol=1e-4)
    again = roughened_engine(tmp_path / "again", 0.6).synthesize([short])[0]
    np.testing.assert_array_equal(again.pitch_hz, alone.pitch_hz)
    raised = fs2.synthesize([short], Controls(pitch=1.5))[0]
    np.testing.assert_allclose(raised.pitch_hz / alone.pitch_hz, 1.5, rtol=1e-3)
    # Different sentences move differently.
    other = fs2.synthesize([("HH", "EY1", ".")])[0]
    base = engine(make_tiny_checkpoint(tmp_path / "plain"))
    assert not np.allclose(
        other.pitch_hz / base.synthesize([("HH", "EY1", ".")])[0].pitch_hz,
        alone.pitch_hz / base.synthesize([short])[0].pitch_hz,
    )


def test_pitch_roughness_leaves_training_predictions_alone(tmp_path: Path) -> None:
    """The losses compare the predictor's own output with the target, never the movement."""
    fs2 = roughened_engine(tmp_path / "rough", 1.0)
    ids = torch.tensor([fs2.phoneme_ids(HELLO)])
    model = fs2.model.train()
    torch.manual_seed(0)
    out = model(ids, torch.tensor([len(HELLO)]), Controls())
    torch.manual_seed(0)
    model.variance_adaptor.pitch_roughness = 0.0
    plain = model(ids, torch.tensor([len(HELLO)]), Controls())
    torch.testing.assert_close(out.pitch, plain.pitch)


def test_pitch_roughness_must_be_a_few_semitones_at_most() -> None:
    with pytest.raises(ValueError, match="pitch_roughness"):
        replace(make_tiny_model().config, pitch_roughness=-0.1).validate()
    with pytest.raises(ValueError, match="pitch_roughness"):
        replace(make_tiny_model().config, pitch_roughness=5.0).validate()


def test_pitch_spread_and_level_widen_and_move_each_sentence_contour_exactly(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    plain = engine(tiny_checkpoint).synthesize([LONG, HELLO])
    fs2 = configured_engine(tmp_path / "calibrated", pitch_spread=1.5, pitch_level=1.1)
    calibrated = fs2.synthesize([LONG, HELLO])
    for before, after in zip(plain, calibrated, strict=True):
        log_f0 = np.log(before.pitch_hz.astype(np.float64))
        centre = log_f0.mean()  # each sentence's own mean, padding left out
        expected = centre + math.log(1.1) + 1.5 * (log_f0 - centre)
        np.testing.assert_allclose(np.log(after.pitch_hz), expected, atol=2e-4)
    # A sentence is calibrated the same alone as in a batch, and --pitch still multiplies.
    alone = fs2.synthesize([HELLO])[0]
    np.testing.assert_allclose(calibrated[1].pitch_hz, alone.pitch_hz, rtol=1e-4)
    raised = fs2.synthesize([HELLO], Controls(pitch=1.25))[0]
    np.testing.assert_allclose(raised.pitch_hz / alone.pitch_hz, 1.25, rtol=1e-3)


def test_pitch_spread_and_level_leave_training_predictions_alone(tmp_path: Path) -> None:
    fs2 = configured_engine(tmp_path / "calibrated", pitch_spread=1.5, pitch_level=1.1)
    ids = torch.tensor([fs2.phoneme_ids(HELLO)])
    model = fs2.model.train()
    torch.manual_seed(0)
    out = model(ids, torch.tensor([len(HELLO)]), Controls())
    torch.manual_seed(0)
    model.variance_adaptor.pitch_spread = model.variance_adaptor.pitch_level = 1.0
    plain = model(ids, torch.tensor([len(HELLO)]), Controls())
    torch.testing.assert_close(out.pitch, plain.pitch)


@pytest.mark.parametrize(
    ("field", "value"),
    [("pitch_spread", 0.4), ("pitch_spread", 2.5), ("pitch_level", 0.7), ("pitch_level", 1.3)],
)
def test_pitch_spread_and_level_must_stay_near_the_prediction(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        replace(make_tiny_model().config, **{field: value}).validate()
