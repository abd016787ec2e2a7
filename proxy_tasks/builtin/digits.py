"""The shared base of the classifiers of scikit-learn's 8x8 digits (``mlp``, ``vit``).

Data: ``datasets.load(config.dataset)`` (1500 training, 297 validation images), the same for
every seed. Plan: shuffled epochs of the training set, ``batch_size`` images a step. Loss
and metric: cross-entropy (nats) of a minibatch and of the whole validation set.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from proxy_tasks import datasets
from proxy_tasks import models
from proxy_tasks.builtin.base import BuiltinTask, epoch_indices

DIGIT_SIDE = 8
DIGIT_CLASSES = 10


class DigitsTask(BuiltinTask):
  """A digits classifier; a subclass gives ``init_params`` and ``logits``."""
  metric_name = "validation cross-entropy (nats)"

  def logits(self, params, images):
    raise NotImplementedError

  @functools.lru_cache(maxsize=8)
  def data(self, seed: int):
    del seed  # the same images for every seed
    return {k: jnp.asarray(v) for k, v in datasets.load(self.config.dataset).items()}

  def plan(self, seed: int) -> np.ndarray:
    c = self.config
    return epoch_indices(np.random.default_rng(seed), datasets.DIGITS_TRAIN, c.steps,
                         c.batch_size)

  def train_loss(self, params, data, row):
    return models.cross_entropy(self.logits(params, data["x_train"][row]),
                                data["y_train"][row])

  def metric(self, params, data):
    return models.cross_entropy(self.logits(params, data["x_val"]), data["y_val"])
