"""``quadratic``: ``1/2 sum_i h_i (w_i - w*_i)^2`` in ``width`` dimensions, curvatures ``h``
log-uniform in ``[0.01, 10]``; the parameters are two arrays ``{"a", "b"}`` (halves of ``w``)
starting one standard normal away from the target."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from proxy_tasks.builtin.noisy import NoisyObjective

MODEL = "quadratic"


class Task(NoisyObjective):
  metric_name = "quadratic objective"

  def init_params(self, seed: int):
    c = self.config
    half = c.width // 2
    target = self.data(seed)["target"]
    start = target + np.random.default_rng(seed).normal(size=c.width).astype(np.float32)
    return {"a": jnp.asarray(start[:half]), "b": jnp.asarray(start[half:])}

  @functools.lru_cache(maxsize=8)
  def data(self, seed: int):
    rng = np.random.default_rng(10_000 + seed)  # the problem, independent of the batches
    width = self.config.width
    curvature = np.exp(rng.uniform(np.log(0.01), np.log(10.0), size=width))
    return {"curvature": jnp.asarray(curvature.astype(np.float32)),
            "target": rng.normal(size=width).astype(np.float32)}

  def objective(self, params, data):
    w = jnp.concatenate([params["a"], params["b"]])
    return 0.5 * jnp.sum(data["curvature"] * jnp.square(w - data["target"]))
