"""A user's own task: a 2-layer MLP regressor on scikit-learn's diabetes data.

Nothing here is part of optsearch: it is what you write to search for an optimizer for your
own model (docs/own_task.md). The data ship with scikit-learn (``load_diabetes``: 442
patients, 10 features, a disease-progression target), so nothing is downloaded.

The search names the task by import path: ``task.name: diabetes_task:make_task`` in
``search.yaml``; the funnel's larger stages are ``make_task_10x`` and ``make_task_100x``
(wider, longer), found by that name. Run from this folder (it must be importable).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from sklearn import datasets

import proxy_tasks

TRAIN = 342  # the first 342 shuffled patients train, the other 100 validate


@functools.cache
def _split():
  """Standardised features and target, shuffled once (fixed seed), as float32."""
  x, y = datasets.load_diabetes(return_X_y=True)
  order = np.random.default_rng(1234).permutation(len(x))
  x, y = x[order], y[order]
  x = (x - x[:TRAIN].mean(0)) / x[:TRAIN].std(0)
  y = (y - y[:TRAIN].mean()) / y[:TRAIN].std()
  return x.astype(np.float32), y.astype(np.float32)


class DiabetesMLP(proxy_tasks.TaskBase):
  """``10 -> hidden -> 1`` with a GELU, mean squared error (of the standardised target).

  Parameters (any pytree works): ``{"hidden": {"w", "b"}, "out": (w, b)}`` — a nested dict
  holding a tuple, arrays of rank 2, 1 and 0.
  """
  metric_name = "validation mean squared error (standardised target)"

  def __init__(self, hidden: int, batch_size: int, settings: proxy_tasks.Settings):
    self.hidden = hidden
    self.batch_size = batch_size
    self.config = settings  # name, steps, seeds, schedule and stop rules

  def init_params(self, seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    features = _split()[0].shape[1]
    return {"hidden": {"w": jax.random.normal(k1, (features, self.hidden)) / np.sqrt(features),
                       "b": jnp.zeros((self.hidden,))},
            "out": (jax.random.normal(k2, (self.hidden,)) / np.sqrt(self.hidden),
                    jnp.zeros(()))}

  def data(self, seed):
    del seed  # the same patients for every seed
    x, y = jnp.asarray(_split()[0]), jnp.asarray(_split()[1])  # jax arrays: indexable by a
    return {"x_train": x[:TRAIN], "y_train": y[:TRAIN],       # traced batch in any jit
            "x_val": x[TRAIN:], "y_val": y[TRAIN:]}

  def plan(self, seed):
    """Step ``t`` trains on ``batch_size`` patients drawn with the seed: ``[steps, batch]``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, TRAIN, size=(self.config.steps, self.batch_size)).astype(np.int32)

  def _predict(self, params, x):
    h = jax.nn.gelu(x @ params["hidden"]["w"] + params["hidden"]["b"])
    w, b = params["out"]
    return h @ w + b

  def train_loss(self, params, data, row):
    return jnp.mean(jnp.square(self._predict(params, data["x_train"][row]) - data["y_train"][row]))

  def metric(self, params, data):
    return jnp.mean(jnp.square(self._predict(params, data["x_val"]) - data["y_val"]))


def make_task(hidden: int = 16, batch_size: int = 32, steps: int = 200,
              name: str = "diabetes_mlp") -> DiabetesMLP:
  """The search's proxy: small and fast. ``task.overrides`` in the config arrive here."""
  return DiabetesMLP(hidden, batch_size, proxy_tasks.Settings(name=name, steps=steps))


def make_task_10x() -> DiabetesMLP:
  """The funnel's first larger stage: a wider model, trained longer."""
  return make_task(hidden=64, steps=600, name="diabetes_mlp_10x")


def make_task_100x() -> DiabetesMLP:
  """The funnel's last stage: wider still, bigger batches, longer."""
  return make_task(hidden=256, batch_size=64, steps=1000, name="diabetes_mlp_100x")
