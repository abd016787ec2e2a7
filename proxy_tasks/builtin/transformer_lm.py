"""``transformer_lm``: a byte-level decoder-only Transformer (``width``, ``depth`` blocks of
``heads`` heads, ``context`` bytes) on ``config.dataset`` (scikit-learn's dataset
descriptions). ``vocab`` below 256 numbers the corpus's distinct bytes instead
(``TaskConfig.vocab``): the same text and metric with a smaller output layer.

Plan: ``batch_size`` random window starts a step. Loss: next-byte cross-entropy of those
windows. Metric: cross-entropy in nats per byte (perplexity ``e^x``) over every
non-overlapping window of the held-out text.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks import datasets
from proxy_tasks import models
from proxy_tasks.builtin.base import BuiltinTask

MODEL = "transformer_lm"
VOCAB = 256


class Task(BuiltinTask):
  metric_name = "validation cross-entropy (nats per byte; perplexity = e^x)"

  def init_params(self, seed: int):
    c = self.config
    return models.lm_init(jax.random.PRNGKey(seed), c.vocab, c.context, c.width, c.depth)

  @functools.lru_cache(maxsize=8)
  def data(self, seed: int):
    del seed  # the same text for every seed
    c = self.config
    text = self._text()
    windows = len(text["val"]) // (c.context + 1)
    val = text["val"][: windows * (c.context + 1)].reshape(windows, c.context + 1)
    return {"train": jnp.asarray(text["train"]), "val_windows": jnp.asarray(val)}

  def _text(self) -> dict[str, np.ndarray]:
    """The corpus as token ids: bytes when ``vocab`` is 256, else each byte's rank in the
    corpus's alphabet (``datasets.text_alphabet``)."""
    c = self.config
    text = datasets.load(c.dataset)
    if c.vocab == VOCAB:
      return text
    alphabet = datasets.text_alphabet()
    if len(alphabet) > c.vocab:
      raise ValueError(f"task '{c.name}': vocab {c.vocab} is smaller than the corpus's "
                       f"{len(alphabet)} distinct bytes")
    ids = np.zeros(VOCAB, np.int32)
    ids[alphabet] = np.arange(len(alphabet), dtype=np.int32)
    return {split: ids[tokens] for split, tokens in text.items()}

  def plan(self, seed: int) -> np.ndarray:
    c = self.config
    limit = len(self._text()["train"]) - c.context - 1
    return np.random.default_rng(seed).integers(0, limit, size=(c.steps, c.batch_size)
                                                ).astype(np.int32)

  def train_loss(self, params, data, row):
    c = self.config
    tokens = data["train"][row[:, None] + jnp.arange(c.context + 1)]
    logits = models.lm_apply(params, tokens[:, :-1], c.heads)
    return models.cross_entropy(logits, tokens[:, 1:])

  def metric(self, params, data):
    windows = data["val_windows"]
    return models.cross_entropy(models.lm_apply(params, windows[:, :-1], self.config.heads),
                                windows[:, 1:])
