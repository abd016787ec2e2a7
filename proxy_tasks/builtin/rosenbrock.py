"""``rosenbrock``: ``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`` in ``width`` dimensions,
from ``x = -1`` plus a little noise of the seed."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from proxy_tasks.builtin.noisy import NoisyObjective

MODEL = "rosenbrock"


class Task(NoisyObjective):
  metric_name = "rosenbrock objective"

  def init_params(self, seed: int):
    rng = np.random.default_rng(seed)
    return {"x": jnp.asarray((-1.0 + 0.1 * rng.normal(size=self.config.width))
                             .astype(np.float32))}

  @functools.lru_cache(maxsize=8)
  def data(self, seed: int):
    return {}

  def objective(self, params, data):
    x = params["x"]
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))
