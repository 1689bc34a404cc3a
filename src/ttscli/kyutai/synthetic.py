"""Kyutai-format TTS checkpoints with random weights: a tiny one laid out in a Hugging Face
cache for the tests, and the full-size architecture's config for benchmarks.

The real model is 4 GB and cannot be downloaded in tests, so we build the same *format* at toy
size: a ``config.json`` with the real schema (LM config, ``tts_config``, ``model_id``, file names,
conditioners, fuser), safetensors for the LM and for Mimi, a SentencePiece tokenizer and a voice
embedding.  Files sit under ``$HF_HOME/hub/models--ORG--NAME/snapshots/<rev>/`` with
``refs/main`` so that ``huggingface_hub`` (and therefore ``CheckpointInfo.from_hf_repo``) finds
them with ``HF_HUB_OFFLINE=1``, exactly as it would find a real download.

The architecture keeps everything that changes control flow (32 codebooks with delays
``[0, 0] + [2] * 31``, the depformer weight-sharing schedule, the second text stream, the 1.28 s
audio delay, CFG-distillation LUT, cross-attention on the voice) and shrinks every width.
The tests build it (``tests/kyutai_fixture.py``), and so does ``scripts/bench_speak.py
--tiny``. Building needs ``sentencepiece`` (in the ``test`` extra) for the tokenizer.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

MODEL_REPO = "ttscli-test/tiny-tts"
VOICE_REPO = "ttscli-test/tiny-voices"
INCOMPLETE_REPO = "ttscli-test/incomplete-tts"
FEW_CODEBOOKS_REPO = "ttscli-test/tiny-tts-8q"
FEW_CODEBOOKS = 8
REVISION = "0" * 40
MODEL_SIG = "0123abcd"
MODEL_EPOCH = 7
VOICE_NAME = "vctk/p999_001.wav"
OTHER_VOICES = ("expresso/ex99-tiny_happy.wav", "voice-donations/tiny.wav")
SPEAKER_DIM = 8
SPEAKER_FRAMES = 10

MOSHI_NAME = f"dsm_tts_{MODEL_SIG}@{MODEL_EPOCH}.safetensors"
MIMI_NAME = "tokenizer-tiny-mimi.safetensors"
TOKENIZER_NAME = "tokenizer_spm_tiny.model"
MIMI_CONFIG_NAME = "mimi_config.json"

_SENTENCES = [
    "Hello world, this is a tiny text to speech model.",
    "The quick brown fox jumps over the lazy dog.",
    "Streaming speech starts before the text has fully arrived.",
    "Bonjour tout le monde, ceci est un petit modèle.",
    "One two three four five six seven eight nine ten.",
    "Kyutai builds models that speak while they read.",
    "A word is spoken as soon as the next one is known.",
    "Good morning, how are you today? I am fine, thank you.",
    "Words arrive one by one from a language model.",
]


@dataclass(frozen=True)
class LMWidths:
    """The sizes that differ between the toy model and kyutai/tts-1.6b-en_fr."""

    card: int
    dim: int
    num_heads: int
    num_layers: int
    depformer_dim: int
    depformer_num_heads: int
    depformer_num_layers: int
    depformer_dim_feedforward: int
    depformer_low_rank_embeddings: int
    speaker_dim: int
    cfg_dim: int


TINY = LMWidths(64, 32, 2, 2, 16, 2, 1, 48, 8, SPEAKER_DIM, 4)
FULL_SIZE = LMWidths(2048, 2048, 16, 16, 1024, 16, 4, 3072, 128, 512, 16)
"""kyutai/tts-1.6b-en_fr's LM, as its published config describes it: ~1.8B parameters."""


def lm_config(
    text_card: int, n_q: int = 32, widths: LMWidths = TINY, speakers: bool = True
) -> dict:
    """The real config.json keys and control flow (delays, depformer weight schedule, second
    text stream, CFG LUT, cross-attention on the voice) at the given widths. Without
    ``speakers``, a model with no voice conditioning (no voices, no dialogues)."""
    schedule = (list(range(8)) + [8] * 8 + [9] * 8 + [10] * 8)[:n_q]
    config = {
        "card": widths.card,
        "n_q": n_q,
        "dep_q": n_q,
        "delays": [0, 0] + [2] * (n_q - 1),
        "dim": widths.dim,
        "text_card": text_card,
        "existing_text_padding_id": 3,
        "num_heads": widths.num_heads,
        "num_layers": widths.num_layers,
        "hidden_scale": 4.125,
        "causal": True,
        "layer_scale": None,
        "context": 500,
        "max_period": 10000,
        "gating": "silu",
        "norm": "rms_norm_f32",
        "positional_embedding": "rope",
        "depformer_dim": widths.depformer_dim,
        "depformer_num_heads": widths.depformer_num_heads,
        "depformer_num_layers": widths.depformer_num_layers,
        "depformer_dim_feedforward": widths.depformer_dim_feedforward,
        "depformer_multi_linear": True,
        "depformer_pos_emb": "none",
        "depformer_weights_per_step": True,
        "depformer_weights_per_step_schedule": schedule,
        "depformer_low_rank_embeddings": widths.depformer_low_rank_embeddings,
        "demux_second_stream": True,
        "text_card_out": None,
        "cross_attention": True,
        "conditioners": {
            "speaker_wavs": {"type": "tensor", "tensor": {"dim": widths.speaker_dim}},
            "cfg": {
                "type": "lut",
                "lut": {
                    "n_bins": 7,
                    "dim": widths.cfg_dim,
                    "tokenizer": "noop",
                    "possible_values": ["1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"],
                },
            },
            "control": {
                "type": "lut",
                "lut": {
                    "dim": widths.dim,
                    "n_bins": 1,
                    "tokenizer": "noop",
                    "possible_values": ["ok"],
                },
            },
        },
        "fuser": {
            "cross_attention_pos_emb": True,
            "cross_attention_pos_emb_scale": 1,
            "sum": ["control", "cfg"],
            "prepend": [],
            "cross": ["speaker_wavs"],
        },
    }
    if not speakers:
        del config["conditioners"]["speaker_wavs"]  # type: ignore[attr-defined]
        config["fuser"]["cross"] = []  # type: ignore[index]
        config["cross_attention"] = False
    return config


def tiny_mimi_config(card: int = 64, n_q: int = 32) -> dict:
    """Mimi's schema with the real hop (8*6*5*4, 12.5 Hz, 1920 samples/frame), tiny widths."""
    dim = 16
    return {
        "sample_rate": 24000,
        "channels": 1,
        "frame_rate": 12.5,
        "seanet": {
            "channels": 1,
            "dimension": dim,
            "causal": True,
            "n_filters": 2,
            "n_residual_layers": 1,
            "activation": "ELU",
            "compress": 2,
            "dilation_base": 2,
            "disable_norm_outer_blocks": 0,
            "kernel_size": 7,
            "residual_kernel_size": 3,
            "last_kernel_size": 3,
            "norm": "none",
            "pad_mode": "constant",
            "ratios": [8, 6, 5, 4],
            "true_skip": True,
        },
        "quantizer": {
            "dimension": 8,
            "n_q": n_q,
            "bins": card,
            "input_dimension": dim,
            "output_dimension": dim,
        },
        "transformer": {
            "d_model": dim,
            "num_heads": 2,
            "num_layers": 1,
            "causal": True,
            "layer_scale": 0.01,
            "context": 250,
            "conv_layout": True,
            "max_period": 10000,
            "gating": "none",
            "norm": "layer_norm",
            "positional_embedding": "rope",
            "dim_feedforward": 32,
            "input_dimension": dim,
            "output_dimensions": [dim],
        },
    }


def train_tokenizer(directory: Path, vocab_size: int = 250) -> Path:
    """Train a SentencePiece model whose ids 0-3 never come out of ``encode``.

    The TTS reserves 0 (new word), 1 (main speaker), 2 (other speaker) and 3 (pad) in the text
    stream, so those ids go to bos/eos/pad/a control symbol, and unknown characters map to 4.
    BPE keeps most corpus words to one or two tokens, hence few model steps per word.
    """
    import sentencepiece as spm

    directory.mkdir(parents=True, exist_ok=True)
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(_SENTENCES * 8) + "\n", encoding="utf-8")
    prefix = directory / "spm"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        bos_id=0,
        eos_id=1,
        pad_id=2,
        unk_id=4,
        control_symbols=["<reserved3>"],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    corpus.unlink()
    return prefix.with_suffix(".model")


def _state_dict_f32(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().float().contiguous() for k, v in module.state_dict().items()}


def build_checkpoint(
    directory: Path, *, seed: int = 1234, n_q: int = 32, speakers: bool = True
) -> dict:
    """Write config.json, LM and Mimi weights and the tokenizer into ``directory``.

    Returns the config that was written.  Weights are random but seeded, so two builds match.
    """
    from moshi.models.loaders import get_mimi, get_moshi_lm

    directory.mkdir(parents=True, exist_ok=True)
    tok_path = train_tokenizer(directory / "_spm")
    (directory / TOKENIZER_NAME).write_bytes(tok_path.read_bytes())
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_file=str(directory / TOKENIZER_NAME)).vocab_size()
    for leftover in (directory / "_spm").iterdir():
        leftover.unlink()
    (directory / "_spm").rmdir()

    lm_settings = lm_config(text_card=vocab, n_q=n_q, speakers=speakers)
    mimi_config = tiny_mimi_config(card=lm_settings["card"], n_q=lm_settings["n_q"])
    config = dict(copy.deepcopy(lm_settings))
    config.update(
        {
            "model_type": "tts",
            "lm_gen_config": {"temp": 0.6, "text_temp": 0.6},
            "tts_config": {"audio_delay": 1.28, "second_stream_ahead": 2},
            "model_id": {"sig": MODEL_SIG, "epoch": MODEL_EPOCH},
            "moshi_name": MOSHI_NAME,
            "mimi_name": MIMI_NAME,
            "tokenizer_name": TOKENIZER_NAME,
            "mimi_config_name": MIMI_CONFIG_NAME,
        }
    )
    torch.manual_seed(seed)
    # The loaders mutate nested conditioner dicts, hence the deep copies.
    lm = get_moshi_lm(None, lm_kwargs=copy.deepcopy(lm_settings), dtype=torch.float32)
    mimi = get_mimi(None, copy.deepcopy(mimi_config))
    fill_codebooks(mimi, seed)
    save_file(_state_dict_f32(lm), str(directory / MOSHI_NAME))
    save_file(_state_dict_f32(mimi), str(directory / MIMI_NAME))
    (directory / MIMI_CONFIG_NAME).write_text(json.dumps(mimi_config, indent=2))
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return config


def fill_codebooks(mimi: torch.nn.Module, seed: int) -> None:
    """Give every codebook of ``mimi`` distinct, seeded entries and mark it initialised.

    A freshly built Mimi has all-zero codebooks (the real one fills them by k-means while it
    trains), so every token sequence of a length would decode to the same audio and no test
    could hear what the LM generated: a voice ignored, a wrong batch row, a dialogue turn.
    """
    generator = torch.Generator().manual_seed(seed + 1)
    for name, buffer in mimi.named_buffers():
        if name.endswith("embedding_sum"):
            buffer.copy_(torch.randn(buffer.shape, generator=generator))
        elif name.endswith("cluster_usage") or name.endswith("_initialized"):
            buffer.fill_(1.0)


def write_voice(
    path: Path, *, seed: int = 0, dim: int = SPEAKER_DIM, frames: int = SPEAKER_FRAMES
) -> Path:
    """A voice embedding shaped like Kyutai's: ``speaker_wavs`` [1, dim, frames] float32.

    The real ones are [1, 512, 125]; the benchmark writes that size, the tests a smaller one.
    """
    generator = torch.Generator().manual_seed(seed)
    emb = torch.randn(1, dim, frames, generator=generator)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {"speaker_wavs": emb},
        str(path),
        metadata={"sig": MODEL_SIG, "epoch": str(MODEL_EPOCH)},
    )
    return path


def snapshot_dir(hub_cache: Path, repo: str, revision: str = REVISION) -> Path:
    """Create the cache skeleton for ``repo`` (refs/main -> revision) and return its snapshot."""
    repo_dir = hub_cache / ("models--" + repo.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    snap = repo_dir / "snapshots" / revision
    snap.mkdir(parents=True, exist_ok=True)
    return snap


@dataclass(frozen=True)
class TinyKyutai:
    """Where the tiny checkpoint lives and the names to ask for it by."""

    hf_home: Path
    hub_cache: Path
    model_repo: str
    voice_repo: str
    incomplete_repo: str
    few_codebooks_repo: str
    model_dir: Path
    voice_name: str
    voice_file: Path
    voice_suffix: str


def build_hf_home(hf_home: Path) -> TinyKyutai:
    """Lay out the model repo, the voice repo and a repo with only config.json."""
    hub = hf_home / "hub"
    model_dir = snapshot_dir(hub, MODEL_REPO)
    build_checkpoint(model_dir)
    suffix = f".{MODEL_SIG}@{MODEL_EPOCH}.safetensors"
    voices = snapshot_dir(hub, VOICE_REPO)
    voice_file = write_voice(voices / (VOICE_NAME + suffix))
    for i, name in enumerate(OTHER_VOICES, start=1):
        write_voice(voices / (name + suffix), seed=i)
    build_checkpoint(snapshot_dir(hub, FEW_CODEBOOKS_REPO), n_q=FEW_CODEBOOKS)
    incomplete = snapshot_dir(hub, INCOMPLETE_REPO)
    (incomplete / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    return TinyKyutai(
        hf_home=hf_home,
        hub_cache=hub,
        model_repo=MODEL_REPO,
        voice_repo=VOICE_REPO,
        incomplete_repo=INCOMPLETE_REPO,
        few_codebooks_repo=FEW_CODEBOOKS_REPO,
        model_dir=model_dir,
        voice_name=VOICE_NAME,
        voice_file=voice_file,
        voice_suffix=suffix,
    )
