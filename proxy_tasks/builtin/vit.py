"""``vit``: a small Vision Transformer on the digits (``patch`` x ``patch`` patches, ``width``,
``depth`` blocks of ``heads`` heads; ``proxy_tasks.models``)."""

from __future__ import annotations

import jax

from proxy_tasks import models
from proxy_tasks.builtin.digits import DIGIT_CLASSES, DIGIT_SIDE, DigitsTask

MODEL = "vit"


class Task(DigitsTask):

  def init_params(self, seed: int):
    c = self.config
    return models.vit_init(jax.random.PRNGKey(seed), DIGIT_SIDE, c.patch, c.width, c.depth,
                           DIGIT_CLASSES)

  def logits(self, params, images):
    c = self.config
    return models.vit_apply(params, images, DIGIT_SIDE, c.patch, c.heads)
