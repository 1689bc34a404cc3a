"""A lean voice: pruned from a voice's own weights, fitted on its outputs (data -> train ->
export), and still the same voice in everything before its decoder."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fs2_fixture import FRAMES_PER_PHONEME, TINY_STATS, tiny_config
from ttscli.fs2.checkpoint import load_checkpoint, save_checkpoint
from ttscli.fs2.engine import FS2Engine
from ttscli.fs2.hifigan import HiFiGANConfig
from ttscli.fs2.latent_vocoder import AdapterConfig, LatentVocoder, LatentVocoderConfig
from ttscli.fs2.model import FastSpeech2
from ttscli.fs2.vocoders import load_bundled_latent, save_bundled
from ttscli.lab.train import lean
from ttscli.lab.train.fs2s import attach_wave_decoder, with_harmonic_source

HELLO = ["HH", "AH0", "L", "OW1", "."]

# The bundled voice's layout in miniature: four decoder blocks, three parallel residual
# blocks after one upsampling stage with an inverse-STFT head and a harmonic source, and
# adapters of seven layers.
VOCODER = LatentVocoderConfig(
    adapter=AdapterConfig(layers=7, channels=8, kernel=3),
    decoder=HiFiGANConfig(
        n_mels=6,
        resblock="2",
        upsample_rates=(8,),
        upsample_kernel_sizes=(16,),
        upsample_initial_channel=16,
        resblock_kernel_sizes=(3, 5, 7),
        resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
        istft_n_fft=128,
        istft_hop=32,
    ),
)


def build_voice(folder: Path, harmonic_source: bool = True) -> Path:
    torch.manual_seed(0)
    base = tiny_config(wave_decoder=False)
    config = replace(
        base,
        decoder=replace(base.decoder, layers=4),
        postnet=None,
        variance=replace(base.variance, pitch_control="embedding", pitch_range=(0.66, 1.6)),
    )
    vocoder = LatentVocoder(VOCODER)
    if harmonic_source:
        vocoder = with_harmonic_source(vocoder, 8)
        with torch.no_grad():  # heard, as in a trained voice
            vocoder.decoder.source.proj.weight.normal_(0, 0.3)
    model = FastSpeech2(config, TINY_STATS)
    predictor = model.variance_adaptor.duration_predictor.linear
    with torch.no_grad():  # about FRAMES_PER_PHONEME frames a phoneme, as trained
        predictor.weight.mul_(0.01)
        predictor.bias.fill_(math.log(FRAMES_PER_PHONEME + 1))
    model = attach_wave_decoder(model, vocoder.eval())
    save_checkpoint(model.eval(), folder)
    save_bundled(vocoder.eval(), folder)
    return folder


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_voice(tmp_path_factory.mktemp("voice"))


def test_renumbered_keeps_the_chosen_entries_in_order() -> None:
    state = {f"blocks.{i}.w": torch.tensor(float(i)) for i in range(4)} | {"x": torch.tensor(9.0)}
    kept = lean.renumbered(state, "blocks", (0, 3))
    assert {k: float(v) for k, v in kept.items()} == {
        "blocks.0.w": 0.0,
        "blocks.1.w": 3.0,
        "x": 9.0,
    }


def test_a_lean_tail_starts_from_the_voices_own_weights(voice: Path) -> None:
    model, vocoder = load_checkpoint(voice), load_bundled_latent(voice)
    tail = lean.LeanTail.pruned(model, vocoder, lean.SHAPES["d2r1a5"])
    assert len(tail.decoder.blocks) == 2 and len(tail.vocoder.decoder.resblocks) == 1
    assert len(tail.vocoder.adapter.convs) == 3
    pairs = [
        (tail.decoder.blocks[1], model.decoder.blocks[3]),
        (tail.vocoder.decoder.resblocks[0], vocoder.decoder.resblocks[1]),
        (tail.vocoder.adapter.convs[0], vocoder.adapter.convs[2]),
        (tail.vocoder.decoder.source, vocoder.decoder.source),
        (tail.mel_linear, model.mel_linear),
    ]
    for mine, theirs in pairs:
        for (name, a), b in zip(
            mine.state_dict().items(), theirs.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b), name
    too_many = lean.LeanShape(decoder_blocks=(0, 4), resblocks=(1,), adapter_convs=())
    with pytest.raises(lean.UserError, match="decoder_blocks"):
        lean.LeanTail.pruned(model, vocoder, too_many)


def test_data_train_export_gives_a_lean_voice_with_the_same_prosody(
    voice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = ["--checkpoint", str(voice)]
    text = tmp_path / "lines.txt"
    text.write_text("The first line is short.\nA second one, a little longer than it.\nThird.\n")
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "lean"
    assert lean.main([*given, "data", "--text", str(text), "--out", str(data)]) == 0
    items = sorted(data.glob("*.npz"))
    assert [p.name for p in items] == ["00000.npz", "00001.npz", "00002.npz"]
    with np.load(items[1]) as item:
        frames = item["mel"].shape[0]
        assert item["x"].shape[0] == frames == item["log_f0"].shape[0]
        assert item["audio"].shape == (frames * 256,)
    train = [*given, "train", "--data", str(data), "--run", str(run), "--validation", "1"]
    assert (
        lean.main([*train, "--steps", "2", "--every", "2", "--frames", "16", "--batch", "2"]) == 0
    )
    assert (run / lean.BEST).is_file()
    assert (
        lean.main([*train, "--steps", "3", "--every", "2", "--frames", "16", "--batch", "2"]) == 0
    )
    assert "resumed at step 2" in capsys.readouterr().out
    assert lean.main([*train, "--shape", "d2r2a5", "--steps", "4"]) == 1  # not this run's shape
    assert lean.main([*given, "export", "--run", str(run), "--out", str(out)]) == 0

    before, after = load_checkpoint(voice), load_checkpoint(out)
    assert after.config.decoder.layers == 2
    assert load_bundled_latent(out).config.decoder.resblock_kernel_sizes == (5,)
    # Everything before the decoder is the voice's own: durations and pitch do not move.
    lengths = torch.tensor([len(HELLO)])
    ids = torch.tensor([[before.config.symbols.index(p) for p in HELLO]])
    with torch.inference_mode():
        old, new = before(ids, lengths), after(ids, lengths)
    assert torch.equal(old.durations, new.durations)
    torch.testing.assert_close(old.pitch, new.pitch)
    for kind in ("fs2", "fs2s"):
        engine = FS2Engine.load(out, kind=kind, device="cpu")
        audio = engine.synthesize([HELLO])[0].audio
        assert len(audio) == int(old.frame_lengths[0]) * 256 and np.isfinite(audio).all()


def test_a_voice_without_a_harmonic_source_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = build_voice(tmp_path / "plain", harmonic_source=False)
    text = tmp_path / "lines.txt"
    text.write_text("One line.\n")
    out = tmp_path / "data"
    assert (
        lean.main(["--checkpoint", str(plain), "data", "--text", str(text), "--out", str(out)]) == 1
    )
    assert "harmonic source" in capsys.readouterr().err
