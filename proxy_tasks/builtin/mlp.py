"""``mlp``: a dense network on the digits (``64 -> hidden... -> 10``, ``activation``
between layers; LeCun-normal weights, zero biases). Parameters: a list of ``{"w", "b"}``."""

from __future__ import annotations

import jax

from proxy_tasks import models
from proxy_tasks.builtin.digits import DIGIT_CLASSES, DIGIT_SIDE, DigitsTask

MODEL = "mlp"


class Task(DigitsTask):

  def init_params(self, seed: int):
    sizes = (DIGIT_SIDE * DIGIT_SIDE, *self.config.hidden, DIGIT_CLASSES)
    return models.mlp_init(jax.random.PRNGKey(seed), sizes)

  def logits(self, params, images):
    return models.mlp_apply(params, images, self.config.activation)
