"""The shared base of the toy objectives with a stochastic gradient (``quadratic``,
``rosenbrock``): the problem is drawn from the seed, each step adds ``noise * <row, w>`` to
the objective (``row``: the step's Gaussian row of the plan, ``[steps, width]``), and the
metric is the noiseless objective."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks.builtin.base import BuiltinTask


class NoisyObjective(BuiltinTask):
  """A toy objective; a subclass gives ``init_params``, ``data`` and ``objective``."""
  shared_data = False  # every seed draws its own problem

  def objective(self, params, data):
    raise NotImplementedError

  def plan(self, seed: int) -> np.ndarray:
    c = self.config
    return np.random.default_rng(seed).normal(size=(c.steps, c.width)).astype(np.float32)

  def train_loss(self, params, data, row):
    if not self.config.noise:
      return self.objective(params, data)
    flat = jnp.concatenate([leaf.reshape(-1) for leaf in jax.tree.leaves(params)])
    return self.objective(params, data) + self.config.noise * jnp.dot(row, flat)

  def metric(self, params, data):
    return self.objective(params, data)
