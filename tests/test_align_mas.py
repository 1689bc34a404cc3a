"""scripts/align_mas.py: MAS, the beta-binomial prior, the forward-sum loss, learning an
alignment, and the train / write / resume command line."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from ttscli.audio.dsp import MelSpec
from ttscli.lab.align import mas as align_mas
from ttscli.text.frontend import text_to_phonemes
from ttscli.text.symbols import SYMBOLS

HOP = MelSpec().hop_length
SAMPLE_RATE = MelSpec().sample_rate


# --- MAS -------------------------------------------------------------------------------------


def brute_force_best(scores: np.ndarray) -> float:
    """Best total score over every monotonic path, by enumerating the durations."""
    n_frames, n_tokens = scores.shape
    best = -math.inf
    for cuts in itertools.combinations(range(1, n_frames), n_tokens - 1):
        bounds = (0, *cuts, n_frames)
        total = sum(scores[bounds[i] : bounds[i + 1], i].sum() for i in range(n_tokens))
        best = max(best, total)
    return best


def path_score(scores: np.ndarray, durations: np.ndarray) -> float:
    tokens = np.repeat(np.arange(len(durations)), durations)
    return float(scores[np.arange(len(tokens)), tokens].sum())


@pytest.mark.parametrize(("n_frames", "n_tokens"), [(1, 1), (7, 1), (5, 5), (9, 4), (40, 13)])
def test_mas_durations_cover_every_frame_and_token(n_frames: int, n_tokens: int) -> None:
    rng = np.random.default_rng(n_frames * 100 + n_tokens)
    durations = align_mas.mas(rng.normal(size=(n_frames, n_tokens)))
    assert durations.shape == (n_tokens,)
    assert durations.sum() == n_frames
    assert durations.min() >= 1


def test_mas_finds_the_best_monotonic_path() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        n_tokens = int(rng.integers(1, 5))
        n_frames = int(rng.integers(n_tokens, 10))
        scores = rng.normal(size=(n_frames, n_tokens))
        durations = align_mas.mas(scores)
        assert path_score(scores, durations) == pytest.approx(brute_force_best(scores))


def test_mas_recovers_a_planted_alignment() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(1, 12, size=30)
    frames = np.repeat(np.arange(len(truth)), truth)
    scores = rng.normal(scale=1.0, size=(len(frames), len(truth)))
    scores[np.arange(len(frames)), frames] += 4.0  # high scores on the block diagonal
    np.testing.assert_array_equal(align_mas.mas(scores), truth)


def test_mas_rejects_impossible_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        align_mas.mas(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="finite"):
        align_mas.mas(np.array([[0.0, -np.inf], [0.0, 0.0]]))


# --- prior -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_tokens", "n_frames"), [(1, 5), (6, 6), (8, 50), (70, 400)])
def test_beta_binomial_prior_shape(n_tokens: int, n_frames: int) -> None:
    log_prior = align_mas.beta_binomial_log_prior(n_tokens, n_frames)
    assert log_prior.shape == (n_frames, n_tokens)
    assert np.all(np.isfinite(log_prior))
    np.testing.assert_allclose(np.exp(log_prior).sum(1), 1.0, atol=1e-5)
    peaks = log_prior.argmax(1)
    assert peaks[0] == 0 and peaks[-1] == n_tokens - 1
    assert np.all(np.diff(peaks) >= 0)  # the mode walks down the diagonal
    # Symmetric: the last frame sees the last token as the first frame sees the first.
    np.testing.assert_allclose(log_prior, log_prior[::-1, ::-1], atol=1e-4)


def test_beta_binomial_prior_means_follow_the_diagonal() -> None:
    n_tokens, n_frames = 20, 100
    prior = np.exp(align_mas.beta_binomial_log_prior(n_tokens, n_frames).astype(np.float64))
    means = prior @ np.arange(n_tokens)
    frames = np.arange(1, n_frames + 1)
    np.testing.assert_allclose(means, (n_tokens - 1) * frames / (n_frames + 1), atol=1e-3)
    # A smaller scaling widens it (what the beta-binomial's scaling is for).
    wide = np.exp(align_mas.beta_binomial_log_prior(n_tokens, n_frames, 0.05))
    spread = ((np.arange(n_tokens) - means[:, None]) ** 2 * prior).sum(1)
    spread_wide = (np.arange(n_tokens) - (wide @ np.arange(n_tokens))[:, None]) ** 2 * wide
    assert spread_wide.sum(1)[50] > 2 * spread[50]


# --- loss and model --------------------------------------------------------------------------


def forward_algorithm(log_attention: torch.Tensor) -> float:
    """-log P(text | mel) over monotonic paths with no blank, per token."""
    n_frames, n_tokens = log_attention.shape
    alpha = torch.full((n_tokens,), -math.inf, dtype=torch.float64)
    alpha[0] = log_attention[0, 0]
    for frame in range(1, n_frames):
        moved = torch.cat([torch.tensor([-math.inf], dtype=torch.float64), alpha[:-1]])
        alpha = torch.logaddexp(alpha, moved) + log_attention[frame]
    return -float(alpha[-1]) / n_tokens


def test_forward_sum_loss_is_the_forward_algorithm_and_batches() -> None:
    torch.manual_seed(0)
    shapes = [(9, 4), (15, 7), (6, 6)]
    singles = []
    for n_frames, n_tokens in shapes:
        log_attention = torch.log_softmax(
            2 * torch.randn(n_frames, n_tokens, dtype=torch.float64), 1
        )
        # With the blank made impossible, CTC sums exactly the MAS paths.
        loss = align_mas.forward_sum_loss(
            log_attention[None], torch.tensor([n_tokens]), torch.tensor([n_frames]), -1e4
        )
        assert float(loss) == pytest.approx(forward_algorithm(log_attention), rel=1e-6)
        singles.append(log_attention)
    # Padded into one batch, the loss is the mean of the singles' (with the usual blank).
    batch = torch.full((3, 15, 7), align_mas.MASKED, dtype=torch.float64)
    for b, log_attention in enumerate(singles):
        batch[b, : log_attention.shape[0], : log_attention.shape[1]] = log_attention
    text_lengths = torch.tensor([s[1] for s in shapes])
    mel_lengths = torch.tensor([s[0] for s in shapes])
    batched = align_mas.forward_sum_loss(batch, text_lengths, mel_lengths, -1.0)
    each = [
        align_mas.forward_sum_loss(s[None], text_lengths[b : b + 1], mel_lengths[b : b + 1], -1.0)
        for b, s in enumerate(singles)
    ]
    assert float(batched) == pytest.approx(float(torch.stack(each).mean()), rel=1e-6)


def tiny_config(**overrides: object) -> align_mas.AlignerConfig:
    """Small and context-free: on a handful of utterances an encoder with context can learn
    to shift what it sees by a token or a frame, which only the utterance ends pin down."""
    fields: dict[str, object] = dict(
        embed_dim=32,
        hidden=64,
        att_dim=32,
        text_kernel=1,
        mel_kernel=1,
        mel_layers=0,
        temperature=0.05,
    )
    fields.update(overrides)
    return align_mas.AlignerConfig(**fields)  # type: ignore[arg-type]


def synthetic_utterances(
    n_utterances: int, seed: int = 0
) -> tuple[list[align_mas.Utterance], list[np.ndarray]]:
    """Utterances of 8 distinct "phonemes", each a fixed random log-mel frame plus noise,
    held for 3-10 frames: learnable, with exactly known durations.

    Built in the mel domain rather than from sine tones: through the STFT a tone change
    smears over about 3 frames, and pure tones of different pitch have different mel peak
    heights, so which token the mixed frames belong to is a convention the aligner may pick
    either way (with tones, boundaries landed 1 frame off either side); here it is not.
    """
    rng = np.random.default_rng(seed)
    vocabulary = 12
    prototypes = rng.normal(-5.0, 2.0, size=(vocabulary, 80))
    utterances, truths = [], []
    for n in range(n_utterances):
        symbols = rng.choice(vocabulary, 8, replace=False)
        durations = rng.integers(3, 11, size=8)
        mel = np.repeat(prototypes[symbols], durations, axis=0)
        mel = mel + rng.normal(0.0, 0.5, size=mel.shape)
        tokens = (symbols + 5).astype(np.int64)  # ARPAbet ids, past the pad and pauses
        phonemes = tuple(SYMBOLS[t] for t in tokens)
        utterances.append(align_mas.Utterance(f"u{n}", phonemes, tokens, mel.T.astype(np.float16)))
        truths.append(durations)
    return utterances, truths


def test_padded_batch_scores_equal_single_utterance_scores() -> None:
    utterances, _ = synthetic_utterances(3)
    utterances[1].mel = utterances[1].mel[:, :20]  # different lengths, so there is padding
    utterances[1].tokens = utterances[1].tokens[:5]
    torch.manual_seed(0)
    model = align_mas.Aligner(align_mas.AlignerConfig(embed_dim=16, hidden=32, att_dim=16))
    model.eval()
    batch = align_mas.collate(utterances, 1.0, torch.device("cpu"))
    with torch.no_grad():
        together = model.log_alignment(
            batch.tokens, batch.text_mask, batch.mels, batch.mel_mask, batch.log_prior
        )
        for b, u in enumerate(utterances):
            one = align_mas.collate([u], 1.0, torch.device("cpu"))
            alone = model.log_alignment(
                one.tokens, one.text_mask, one.mels, one.mel_mask, one.log_prior
            )[0]
            got = together[b, : u.n_frames, : len(u.tokens)]
            torch.testing.assert_close(got, alone, atol=1e-4, rtol=1e-4)


def test_forward_sum_training_learns_the_alignment() -> None:
    torch.set_num_threads(1)
    utterances, truths = synthetic_utterances(3)
    config = align_mas.TrainConfig(aligner=tiny_config(), batch_size=3, learning_rate=3e-3)
    torch.manual_seed(0)
    model = align_mas.Aligner(config.aligner)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    losses = [loss for _, loss in align_mas.train(model, optimizer, config, utterances, 0, 80)]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    errors = np.concatenate(
        [
            np.abs(align_mas.durations_of(model, u) - t)
            for u, t in zip(utterances, truths, strict=True)
        ]
    )
    prior_only = np.concatenate(
        [
            np.abs(align_mas.mas(align_mas.beta_binomial_log_prior(len(t), int(t.sum()))) - t)
            for t in truths
        ]
    )
    # Seed 0 gives every duration exactly; other seeds leave one token in 8 off by a few
    # frames (a local optimum), hence a margin.
    assert (errors <= 1).mean() >= 0.8, errors
    assert (errors <= 2).mean() >= 0.85, errors
    assert errors.mean() < prior_only.mean()


# --- checkpoints and the command line ----------------------------------------------------------


def test_checkpoint_round_trip_restores_weights_and_adam(tmp_path: Path) -> None:
    utterances, _ = synthetic_utterances(2)
    config = align_mas.TrainConfig(aligner=tiny_config(), batch_size=2)
    _, model, optimizer, step = align_mas.open_run(tmp_path, config, torch.device("cpu"))
    assert step == 0
    list(align_mas.train(model, optimizer, config, utterances, 0, 3, run=tmp_path, quiet=True))
    _, again, again_optimizer, step = align_mas.open_run(tmp_path, config, torch.device("cpu"))
    assert step == 3
    for (name, a), (_, b) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)
    moments = optimizer.state_dict()["state"]
    restored = again_optimizer.state_dict()["state"]
    assert moments.keys() == restored.keys()
    for index in moments:
        for key in moments[index]:
            torch.testing.assert_close(moments[index][key], restored[index][key])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "log.jsonl",
        "train_state.json",
        "train_state.safetensors",
    ]


def test_batches_are_a_function_of_the_step() -> None:
    utterances, _ = synthetic_utterances(10)
    first = [[u.id for u in align_mas.batch_for_step(utterances, 3, s, 7)] for s in range(1, 7)]
    again = [[u.id for u in align_mas.batch_for_step(utterances, 3, s, 7)] for s in range(1, 7)]
    assert first == again
    epoch = sorted(itertools.chain.from_iterable(first[:3]))
    assert len(set(epoch)) == 9  # an epoch (3 batches of 3) has no repeats


TEXTS = {
    "t_001": "Hello there, my friend.",
    "t_002": "A cat sat on the mat!",
    "t_003": "Is it going to rain today?",
}


def tone_corpus(folder: Path) -> Path:
    """An LJSpeech-style folder whose wavs play a tone per phoneme (six frames each) and end
    on a part-hop tail, which the aligner must cut off."""
    (folder / "wavs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    pitches = {s: 150.0 * 2 ** (i / 12) for i, s in enumerate(SYMBOLS)}
    rows = []
    for utt_id, text in TEXTS.items():
        phonemes = text_to_phonemes(text)
        freq = np.repeat([pitches[p] for p in phonemes], 6 * HOP)
        wave = 0.3 * np.sin(np.cumsum(2 * np.pi * freq / SAMPLE_RATE))
        wave = np.concatenate([wave, 0.01 * rng.normal(size=100)])
        soundfile.write(folder / "wavs" / f"{utt_id}.wav", wave, SAMPLE_RATE)
        rows.append(f"{utt_id}|{text.upper()}|{text}\n")
    rows.append("t_004|No wav for this one.|No wav for this one.\n")
    (folder / "metadata.csv").write_text("".join(rows), encoding="utf-8")
    return folder


def test_train_write_refuse_force_and_resume(tmp_path: Path) -> None:
    corpus = tone_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    common = ["--corpus", str(corpus), "--run", str(run), "--batch-size", "2", "--quiet"]
    common += ["--log-every", "1", "--threads", "1"]
    assert align_mas.main([*common, "--steps", "2"]) == 0
    assert align_mas.main([*common, "--steps", "4", "--write"]) == 0

    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4]  # resumed, not restarted
    names = sorted(p.name for p in run.iterdir())
    # the shared run-state format: no pickles
    assert names == ["config.json", "log.jsonl", "train_state.json", "train_state.safetensors"]

    target = corpus / "alignments.jsonl"
    written = target.read_text(encoding="utf-8")
    items = [json.loads(line) for line in written.splitlines()]
    assert [item["id"] for item in items] == sorted(TEXTS)  # t_004 has no wav: skipped
    for item in items:
        assert set(item) == {"id", "phonemes", "durations", "samples"}
        assert tuple(item["phonemes"]) == text_to_phonemes(TEXTS[item["id"]])
        assert all(isinstance(d, int) and d >= 1 for d in item["durations"])
        assert len(item["durations"]) == len(item["phonemes"])
        assert item["samples"] == sum(item["durations"]) * HOP
        wav_samples = soundfile.info(corpus / "wavs" / f"{item['id']}.wav").frames
        assert item["samples"] <= wav_samples < item["samples"] + HOP

    # Refused without --force (before any training), the file untouched.
    assert align_mas.main([*common, "--steps", "4", "--write"]) == 2
    assert target.read_text(encoding="utf-8") == written
    target.write_text("teacher's\n", encoding="utf-8")
    assert align_mas.main([*common, "--steps", "5", "--write"]) == 2
    assert target.read_text(encoding="utf-8") == "teacher's\n"
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 4
    # --steps 0 with --force: durations from the checkpoint as it is, no training.
    assert align_mas.main([*common, "--steps", "0", "--write", "--force"]) == 0
    assert target.read_text(encoding="utf-8") == written  # the same model, the same output


def test_compare_reports_against_a_reference(tmp_path: Path) -> None:
    reference = tmp_path / "reference.jsonl"
    lines = [
        {"id": "a", "phonemes": ["B", "AA1", "."], "durations": [2, 5, 3], "samples": 2560},
        {"id": "b", "phonemes": ["B", "."], "durations": [2, 2], "samples": 1024},
    ]
    reference.write_text("".join(json.dumps(line) + "\n" for line in lines) + "{cut sh")
    ours = {"a": np.array([3, 4, 3]), "b": np.array([1, 3])}
    phonemes = {"a": ("B", "AA1", "."), "b": ("P", ".")}
    report = align_mas.compare(reference, ours, phonemes)
    assert report["utterances"] == 1 and report["phoneme_mismatch"] == 1
    assert report["mean_abs_error_frames"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["within_1_frame"] == 1.0
    assert report["boundary_median_offset_frames"] == 0.5
