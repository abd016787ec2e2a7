"""A proxy task built from its ``TaskConfig``: parameters, data, batches, loss and metric.

Every task exposes the same pure pieces, which the evaluator and the per-program reference
(``proxy_tasks.reference``) both use, so the two train on exactly the same numbers:

* ``init_params(seed)``: the model's initial parameters (a pytree of float32 arrays);
* ``data(seed)``: a dict of arrays (the toys draw their problem from the seed);
* ``plan(seed)``: ``[steps, ...]`` int32 (or float32) per-step batch indices (or gradient
  noise), drawn with ``numpy.random.default_rng(seed)``;
* ``train_loss(params, data, plan_row)``: the minibatch loss of one step;
* ``metric(params, data)``: the validation metric, **lower is better**:

  ==================  ===========================================================
  model               metric
  ==================  ===========================================================
  mlp, vit            validation cross-entropy (nats) on the held-out digits
  transformer_lm      validation cross-entropy (nats per byte; perplexity = e^x)
                      on every non-overlapping window of the held-out text
  quadratic           the noiseless objective 1/2 sum_i h_i (w_i - w*_i)^2
  rosenbrock          the noiseless sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2
  linear_regression   mean squared error on held-out examples
  ==================  ===========================================================

The toys add ``noise * <plan_row, w>`` to the training loss (a stochastic gradient).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks import datasets
from proxy_tasks import models
from proxy_tasks.config import TaskConfig, schedule

DIGIT_SIDE = 8
DIGIT_CLASSES = 10
VOCAB = 256
TOY_MODELS = ("quadratic", "rosenbrock", "linear_regression")
MODELS = ("mlp", "vit", "transformer_lm") + TOY_MODELS


def _epoch_indices(rng: np.random.Generator, size: int, steps: int, batch: int) -> np.ndarray:
  """``[steps, batch]`` indices: shuffled epochs of ``range(size)``, without replacement."""
  epochs = -(-steps * batch // size)
  flat = np.concatenate([rng.permutation(size) for _ in range(epochs)])
  return flat[: steps * batch].reshape(steps, batch).astype(np.int32)


class Task:
  """A proxy task; see the module docstring. Build with ``proxy_tasks.get(name, **overrides)``."""

  def __init__(self, config: TaskConfig):
    if config.model not in MODELS:
      raise ValueError(f"task '{config.name}': unknown model '{config.model}'; known: "
                       f"{', '.join(MODELS)}")
    self.config = config

  @property
  def name(self) -> str:
    return self.config.name

  def __repr__(self) -> str:
    return f"Task({self.config!r})"

  @property
  def shared_data(self) -> bool:
    """Whether every seed trains on the same data (only the toys draw theirs per seed)."""
    return self.config.model not in TOY_MODELS

  def schedule(self) -> np.ndarray:
    return schedule(self.config)

  # Parameters.
  def init_params(self, seed: int) -> Any:
    c = self.config
    key = jax.random.PRNGKey(seed)
    if c.model == "mlp":
      return models.mlp_init(key, (DIGIT_SIDE * DIGIT_SIDE, *c.hidden, DIGIT_CLASSES))
    if c.model == "vit":
      return models.vit_init(key, DIGIT_SIDE, c.patch, c.width, c.depth, DIGIT_CLASSES)
    if c.model == "transformer_lm":
      return models.lm_init(key, c.vocab, c.context, c.width, c.depth)
    rng = np.random.default_rng(seed)
    if c.model == "quadratic":
      half = c.width // 2
      target = self.data(seed)["target"]
      start = target + rng.normal(size=c.width).astype(np.float32)
      return {"a": jnp.asarray(start[:half]), "b": jnp.asarray(start[half:])}
    if c.model == "rosenbrock":
      return {"x": jnp.asarray((-1.0 + 0.1 * rng.normal(size=c.width)).astype(np.float32))}
    return {"w": jnp.zeros((c.width,), jnp.float32), "b": jnp.zeros((), jnp.float32)}

  # Data.
  @functools.lru_cache(maxsize=8)
  def data(self, seed: int) -> dict[str, jax.Array]:
    c = self.config
    if c.model in ("mlp", "vit"):
      return {k: jnp.asarray(v) for k, v in datasets.load(c.dataset).items()}
    if c.model == "transformer_lm":
      text = self._text()
      windows = len(text["val"]) // (c.context + 1)
      val = text["val"][: windows * (c.context + 1)].reshape(windows, c.context + 1)
      return {"train": jnp.asarray(text["train"]), "val_windows": jnp.asarray(val)}
    rng = np.random.default_rng(10_000 + seed)  # the problem, independent of the batches
    if c.model == "quadratic":
      curvature = np.exp(rng.uniform(np.log(0.01), np.log(10.0), size=c.width))
      return {"curvature": jnp.asarray(curvature.astype(np.float32)),
              "target": rng.normal(size=c.width).astype(np.float32)}
    if c.model == "rosenbrock":
      return {}
    x = rng.normal(size=(2 * 256, c.width)).astype(np.float32)
    w_true, b_true = rng.normal(size=c.width).astype(np.float32), np.float32(rng.normal())
    y = x @ w_true + b_true + 0.1 * rng.normal(size=len(x)).astype(np.float32)
    return {"x_train": jnp.asarray(x[:256]), "y_train": jnp.asarray(y[:256]),
            "x_val": jnp.asarray(x[256:]), "y_val": jnp.asarray(y[256:])}

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
    """What each step trains on: ``[steps, batch]`` indices, or ``[steps, width]`` noise."""
    c = self.config
    rng = np.random.default_rng(seed)
    if c.model in ("mlp", "vit"):
      return _epoch_indices(rng, datasets.DIGITS_TRAIN, c.steps, c.batch_size)
    if c.model == "transformer_lm":
      limit = len(self._text()["train"]) - c.context - 1
      return rng.integers(0, limit, size=(c.steps, c.batch_size)).astype(np.int32)
    if c.model == "linear_regression":
      return _epoch_indices(rng, 256, c.steps, c.batch_size)
    return rng.normal(size=(c.steps, c.width)).astype(np.float32)

  # Losses.
  def _logits(self, params, inputs):
    c = self.config
    if c.model == "mlp":
      return models.mlp_apply(params, inputs, c.activation)
    return models.vit_apply(params, inputs, DIGIT_SIDE, c.patch, c.heads)

  def _objective(self, params, data):
    c = self.config
    if c.model == "quadratic":
      w = jnp.concatenate([params["a"], params["b"]])
      return 0.5 * jnp.sum(data["curvature"] * jnp.square(w - data["target"]))
    x = params["x"]
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))

  def train_loss(self, params, data, row):
    c = self.config
    if c.model in ("mlp", "vit"):
      return models.cross_entropy(self._logits(params, data["x_train"][row]),
                                  data["y_train"][row])
    if c.model == "transformer_lm":
      tokens = data["train"][row[:, None] + jnp.arange(c.context + 1)]
      logits = models.lm_apply(params, tokens[:, :-1], c.heads)
      return models.cross_entropy(logits, tokens[:, 1:])
    if c.model == "linear_regression":
      prediction = data["x_train"][row] @ params["w"] + params["b"]
      return jnp.mean(jnp.square(prediction - data["y_train"][row]))
    if not c.noise:
      return self._objective(params, data)
    flat = jnp.concatenate([leaf.reshape(-1) for leaf in jax.tree.leaves(params)])
    return self._objective(params, data) + c.noise * jnp.dot(row, flat)

  def metric(self, params, data):
    c = self.config
    if c.model in ("mlp", "vit"):
      return models.cross_entropy(self._logits(params, data["x_val"]), data["y_val"])
    if c.model == "transformer_lm":
      windows = data["val_windows"]
      return models.cross_entropy(models.lm_apply(params, windows[:, :-1], c.heads),
                                  windows[:, 1:])
    if c.model == "linear_regression":
      prediction = data["x_val"] @ params["w"] + params["b"]
      return jnp.mean(jnp.square(prediction - data["y_val"]))
    return self._objective(params, data)
