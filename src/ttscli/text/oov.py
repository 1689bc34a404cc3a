"""Pronunciations for words CMUdict lacks, from g2p_en's small GRU seq2seq model.

g2p_en ships trained weights (``checkpoint20.npz``) but importing the package downloads
nltk data, which fails offline. Only the weights are used here; inference is a plain numpy
encoder-decoder: a GRU reads the letters, another GRU emits phonemes greedily.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ttscli.text.symbols import ARPABET
from ttscli.util.errors import UserError

_GRAPHEMES = ("<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz")
_UNKNOWN_LETTER = 1
_OUTPUT_SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
_PHONEMES = (*_OUTPUT_SPECIALS, *sorted({*ARPABET, "UW"}))
"""The model's output vocabulary: its specials, then CMUdict's symbols in sorted order.

The trainer's list had a stray stress-less "UW" among them, and the weights' rows follow
that list, so it has to be kept for the indices to line up.
"""
_START, _STOP = 2, 3
_MAX_PHONEMES = 20
"""The trainer's decoding limit; longer words are truncated, as in g2p_en itself."""
_STRESSLESS = {"UW": "UW1"}


def g2p_en_data_dir() -> Path:
    """Locate the installed g2p_en folder without importing (and so without running) it."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the g2p_en package is not installed; run: pip install g2p_en")
    return Path(next(iter(spec.submodule_search_locations)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The tanh form cannot overflow, unlike 1 / (1 + exp(-x)) for large negative x.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class _Gru:
    """One GRU layer with PyTorch's gate layout: rows are [reset; update; candidate]."""

    def __init__(self, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray):
        self.w_ih_t = np.ascontiguousarray(w_ih.T)
        self.w_hh_t = np.ascontiguousarray(w_hh.T)
        self.b_ih = b_ih
        self.b_hh = b_hh
        self.size = w_hh.shape[1]

    def project_inputs(self, x: np.ndarray) -> np.ndarray:
        """The input half of every gate, for all time steps at once."""
        return x @ self.w_ih_t + self.b_ih

    def step(self, projected_x: np.ndarray, h: np.ndarray) -> np.ndarray:
        projected_h = h @ self.w_hh_t + self.b_hh
        n = self.size
        reset = _sigmoid(projected_x[:n] + projected_h[:n])
        update = _sigmoid(projected_x[n : 2 * n] + projected_h[n : 2 * n])
        candidate = np.tanh(projected_x[2 * n :] + reset * projected_h[2 * n :])
        return (1.0 - update) * candidate + update * h


class OovModel:
    """Greedy letter-to-phoneme decoding with g2p_en's trained weights."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        if weights["enc_emb"].shape[0] != len(_GRAPHEMES) or weights["fc_w"].shape[0] != len(
            _PHONEMES
        ):
            raise ValueError("g2p_en checkpoint does not match the expected vocabularies")
        self._letter_embeddings = weights["enc_emb"]
        self._encoder = _Gru(
            weights["enc_w_ih"], weights["enc_w_hh"], weights["enc_b_ih"], weights["enc_b_hh"]
        )
        self._decoder = _Gru(
            weights["dec_w_ih"], weights["dec_w_hh"], weights["dec_b_ih"], weights["dec_b_hh"]
        )
        # The decoder's input is always one of 74 embeddings, so project them all once.
        self._decoder_inputs = self._decoder.project_inputs(weights["dec_emb"])
        self._out_w_t = np.ascontiguousarray(weights["fc_w"].T)
        self._out_b = weights["fc_b"]
        self._letter_index = {g: i for i, g in enumerate(_GRAPHEMES)}

    @classmethod
    def load(cls, path: Path | None = None) -> OovModel:
        path = path or g2p_en_data_dir() / "checkpoint20.npz"
        with np.load(path) as archive:
            return cls({name: archive[name] for name in archive.files})

    def predict(self, word: str) -> tuple[str, ...]:
        """ARPAbet for a lowercase word; characters outside a-z count as unknown letters."""
        ids = [self._letter_index.get(ch, _UNKNOWN_LETTER) for ch in word]
        ids.append(self._letter_index["</s>"])
        projected = self._encoder.project_inputs(self._letter_embeddings[ids])
        h = np.zeros(self._encoder.size, dtype=np.float32)
        for row in projected:
            h = self._encoder.step(row, h)

        symbol = _START
        phonemes: list[str] = []
        for _ in range(_MAX_PHONEMES):
            h = self._decoder.step(self._decoder_inputs[symbol], h)
            symbol = int(np.argmax(h @ self._out_w_t + self._out_b))
            if symbol == _STOP:
                break
            if symbol >= len(_OUTPUT_SPECIALS):
                name = _PHONEMES[symbol]
                phonemes.append(_STRESSLESS.get(name, name))
        return tuple(phonemes)


@lru_cache(maxsize=1)
def oov_model() -> OovModel:
    """The shared model, loaded on the first out-of-vocabulary word."""
    return OovModel.load()
