"""``linear_regression``: ``y = <x, w> + b`` in ``width`` dimensions on 256 training and 256
validation examples drawn from the seed (Gaussian inputs, a random true ``w, b``, noise
0.1). Loss: minibatch mean squared error; metric: validation mean squared error."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from proxy_tasks.builtin.base import BuiltinTask, epoch_indices

MODEL = "linear_regression"
EXAMPLES = 256


class Task(BuiltinTask):
  metric_name = "validation mean squared error"
  shared_data = False  # every seed draws its own problem

  def init_params(self, seed: int):
    del seed
    return {"w": jnp.zeros((self.config.width,), jnp.float32), "b": jnp.zeros((), jnp.float32)}

  @functools.lru_cache(maxsize=8)
  def data(self, seed: int):
    rng = np.random.default_rng(10_000 + seed)  # the problem, independent of the batches
    width = self.config.width
    x = rng.normal(size=(2 * EXAMPLES, width)).astype(np.float32)
    w_true, b_true = rng.normal(size=width).astype(np.float32), np.float32(rng.normal())
    y = x @ w_true + b_true + 0.1 * rng.normal(size=len(x)).astype(np.float32)
    return {"x_train": jnp.asarray(x[:EXAMPLES]), "y_train": jnp.asarray(y[:EXAMPLES]),
            "x_val": jnp.asarray(x[EXAMPLES:]), "y_val": jnp.asarray(y[EXAMPLES:])}

  def plan(self, seed: int) -> np.ndarray:
    c = self.config
    return epoch_indices(np.random.default_rng(seed), EXAMPLES, c.steps, c.batch_size)

  def train_loss(self, params, data, row):
    prediction = data["x_train"][row] @ params["w"] + params["b"]
    return jnp.mean(jnp.square(prediction - data["y_train"][row]))

  def metric(self, params, data):
    prediction = data["x_val"] @ params["w"] + params["b"]
    return jnp.mean(jnp.square(prediction - data["y_val"]))
