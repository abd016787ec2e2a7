"""Proxy tasks by name. ``get(name, **overrides)`` builds one; ``register`` adds one.

Meta-validation registers larger members of a family in one line, e.g.::

  proxy_tasks.register_scaled("mlp_digits_10x", "mlp_digits", hidden=(320,), steps=3000)
"""

from __future__ import annotations

import dataclasses

from proxy_tasks.config import TaskConfig
from proxy_tasks.tasks import Task

_CONFIGS: dict[str, TaskConfig] = {}

# The search's default proxy: the 64-32-10 tanh MLP on digits (the reference workload of
# benchmarks/eval_throughput.py); cheapest of the real-data tasks.
DEFAULT_PROXY = "mlp_digits"


def register(config: TaskConfig, overwrite: bool = False) -> TaskConfig:
  """Adds ``config`` under ``config.name``; a name is registered once unless ``overwrite``."""
  if config.name in _CONFIGS and not overwrite and _CONFIGS[config.name] != config:
    raise ValueError(f"task '{config.name}' is already registered with another config")
  _CONFIGS[config.name] = config
  return config


def register_scaled(name: str, base: str, **overrides) -> TaskConfig:
  """Registers ``name``: the config of ``base`` with ``overrides`` (e.g. wider, longer)."""
  return register(dataclasses.replace(get_config(base), name=name, **overrides))


def names() -> list[str]:
  return sorted(_CONFIGS)


def get_config(name: str, **overrides) -> TaskConfig:
  if name not in _CONFIGS:
    raise KeyError(f"unknown proxy task '{name}'; known: {', '.join(names())}")
  fields = {f.name for f in dataclasses.fields(TaskConfig)}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise TypeError(f"task '{name}': unknown config field(s) {', '.join(unknown)}; fields: "
                    f"{', '.join(sorted(fields))}")
  return dataclasses.replace(_CONFIGS[name], **overrides)


def get(name: str, **overrides) -> Task:
  """The task ``name`` with any config field overridden (e.g. ``steps=100, seeds=(1,)``)."""
  if "seed" in overrides:  # convenience: one seed
    overrides["seeds"] = (int(overrides.pop("seed")),)
  return Task(get_config(name, **overrides))


register(TaskConfig(name="mlp_digits", model="mlp", dataset="digits", hidden=(32,),
                    activation="tanh", batch_size=64, steps=300))
register(TaskConfig(name="vit_digits", model="vit", dataset="digits", width=32, depth=2,
                    heads=2, patch=2, batch_size=64, steps=300))
register(TaskConfig(name="lm_sklearn_text", model="transformer_lm", dataset="sklearn_text",
                    width=32, depth=2, heads=2, context=32, batch_size=16, steps=300))
register(TaskConfig(name="quadratic", model="quadratic", dataset="none", width=16,
                    batch_size=1, steps=100))
register(TaskConfig(name="rosenbrock", model="rosenbrock", dataset="none", width=4,
                    batch_size=1, steps=100, noise=0.01))
register(TaskConfig(name="linear_regression", model="linear_regression", dataset="none",
                    width=8, batch_size=32, steps=100))

# Larger-batch members, in the regime of the paper's proxies (Lion's gains over AdamW are
# reported to grow with the batch and to vanish below ~64), sized by measurement so that a
# search stays affordable on the 2-core machine (``benchmarks/task_throughput.py``;
# docs/results.md has the figures). ``mlp_digits_b256``: the reference MLP at 4x the batch
# (51 epochs of the 1500 training images in 300 steps, against 13). ``lm_sklearn_text_b64``: 64
# sequences per step, made affordable by a narrower (16), shallower (1 block), shorter-context
# (8 bytes), shorter (100 steps) LM over the corpus's 93-byte alphabet (``vocab=96``; the
# 256-way output layer was most of its FLOPs). It still learns: tuned AdamW 4.93 -> 2.75
# nats/byte (context 16: 2.73 at twice the cost).
register(TaskConfig(name="mlp_digits_b256", model="mlp", dataset="digits", hidden=(32,),
                    activation="tanh", batch_size=256, steps=300))
register(TaskConfig(name="lm_sklearn_text_b64", model="transformer_lm", dataset="sklearn_text",
                    width=16, depth=1, heads=2, context=8, vocab=96, batch_size=64,
                    steps=100))
