"""The base of the built-in tasks: a ``protocol.TaskBase`` built from its ``TaskConfig``."""

from __future__ import annotations

import numpy as np

from proxy_tasks.config import TaskConfig
from proxy_tasks.protocol import TaskBase


class BuiltinTask(TaskBase):
  """A built-in task: ``config`` is a ``proxy_tasks.TaskConfig`` (run settings and the
  model's own sizes)."""

  def __init__(self, config: TaskConfig):
    self.config = config

  def __repr__(self) -> str:
    return f"Task({self.config!r})"


def epoch_indices(rng, size: int, steps: int, batch: int):
  """``[steps, batch]`` int32 indices: shuffled epochs of ``range(size)``, without
  replacement."""
  epochs = -(-steps * batch // size)
  flat = np.concatenate([rng.permutation(size) for _ in range(epochs)])
  return flat[: steps * batch].reshape(steps, batch).astype(np.int32)
