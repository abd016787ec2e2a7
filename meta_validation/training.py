"""Training with learning curves: one program on one task, several seeds at once.

``proxy_tasks`` scores programs by their final validation metric only; replay and the funnel
also need the curve (to plot it and to find the step at which a run first reaches AdamW's
final metric). This module builds the same training loop as ``proxy_tasks.reference`` (the
reference semantics ``dsl.compile``, the task's own ``init_params``, ``data``, ``plan``,
``schedule``, ``train_loss`` and ``metric``, so the numbers agree with it) and additionally
records

* the training loss of every step, ``[seeds, steps]``;
* the validation metric (lower is better) every ``eval_every`` steps and at the last step.

The seeds are ``vmap``-ed (one compiled loop for all of them); the steps run in compiled
chunks between evaluations, so a caller can show progress (``on_chunk``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import dsl
from dsl.files import json_float
from dsl.program import Program
from proxy_tasks.tasks import Task


@dataclasses.dataclass(frozen=True)
class Curves:
  """Learning curves of one program on one task.

  Attributes:
    seeds: the seeds, one row of each array per seed.
    eval_steps: ``[points]`` steps completed at each evaluation (the last is ``steps``).
    val_metric: ``[seeds, points]`` validation metric (lower is better; NaN once diverged).
    train_loss: ``[seeds, steps]`` minibatch training loss of each step.
  """
  seeds: tuple[int, ...]
  eval_steps: np.ndarray
  val_metric: np.ndarray
  train_loss: np.ndarray

  @property
  def final(self) -> np.ndarray:
    """``[seeds]`` final validation metric."""
    return self.val_metric[:, -1]

  @property
  def ok(self) -> bool:
    """Whether every seed ended with a finite metric."""
    return bool(np.all(np.isfinite(self.final)))

  def steps_to_reach(self, target: float) -> int | None:
    """First evaluated step at which the seed-mean metric is ``<= target`` (None: never)."""
    mean = np.mean(self.val_metric, axis=0)
    hits = np.nonzero(np.isfinite(mean) & (mean <= target))[0]
    return int(self.eval_steps[hits[0]]) if len(hits) else None

  def to_json(self) -> dict:
    return {"seeds": list(self.seeds), "eval_steps": self.eval_steps.tolist(),
            "val_metric": [[json_float(x) for x in row] for row in self.val_metric],
            "train_loss_every_eval": [[json_float(x) for x in row[self.eval_steps - 1]]
                                      for row in self.train_loss]}



def eval_points(steps: int, evals: int) -> np.ndarray:
  """About ``evals`` evaluation steps, evenly spaced, ending at ``steps`` (sorted, unique)."""
  evals = max(1, min(int(evals), steps))
  return np.unique(np.round(np.linspace(steps / evals, steps, evals)).astype(np.int64))


def _stack(trees):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def train(task: Task, program: Program, seeds: Sequence[int], evals: int = 20,
          on_chunk: Callable[[int, int], None] | None = None) -> Curves:
  """Trains ``program`` on ``task`` once per seed; returns its ``Curves``.

  Args:
    task: a ``proxy_tasks.Task`` (its ``config.seeds`` are ignored: ``seeds`` decide).
    program: the optimizer program (``dsl.ProgramError`` if invalid).
    seeds: explicit seeds (model initialisation, batch order, and the toys' problem).
    evals: how many times (about) to evaluate the validation metric, evenly spaced.
    on_chunk: called as ``on_chunk(steps_done, steps_total)`` after every chunk.
  """
  seeds = tuple(int(s) for s in seeds)
  if not seeds:
    raise ValueError("train: seeds must name at least one seed")
  step_fn = dsl.compile(program)
  steps = task.config.steps
  points = eval_points(steps, evals)
  params = _stack([task.init_params(s) for s in seeds])
  states = jax.vmap(lambda p: dsl.init_states(program, p))(params)
  plans = jnp.asarray(np.stack([task.plan(s) for s in seeds]))
  schedule = jnp.asarray(task.schedule())
  if task.shared_data:
    data, data_axis = task.data(seeds[0]), None
  else:
    data, data_axis = _stack([task.data(s) for s in seeds]), 0

  def one_step(t, carry, data, plan):
    params, states, losses = carry
    loss, grad = jax.value_and_grad(task.train_loss)(params, data, plan[t])
    update, states = step_fn(params, grad, states, schedule[t])
    params = jax.tree.map(lambda p, u: p - u, params, update)
    return params, states, losses.at[t].set(loss)

  def advance_one(params, states, losses, data, plan, start, end):
    return jax.lax.fori_loop(start, end, lambda t, c: one_step(t, c, data, plan),
                             (params, states, losses))

  advance = jax.jit(jax.vmap(advance_one, in_axes=(0, 0, 0, data_axis, 0, None, None)))
  metric = jax.jit(jax.vmap(task.metric, in_axes=(0, data_axis)))

  losses = jnp.zeros((len(seeds), steps), jnp.float32)
  values = []
  start = 0
  for end in points:
    params, states, losses = advance(params, states, losses, data, plans, jnp.int32(start),
                                     jnp.int32(end))
    values.append(np.asarray(metric(params, data), np.float64))
    start = int(end)
    if on_chunk is not None:
      on_chunk(start, steps)
  val_metric = np.stack(values, axis=1)
  train_loss = np.asarray(losses, np.float64)
  # A run whose loss went non-finite has diverged: its later evaluations mean nothing.
  for row, loss_row in zip(val_metric, train_loss):
    bad = np.nonzero(~np.isfinite(loss_row))[0]
    if len(bad):
      row[points > bad[0]] = math.nan
  return Curves(seeds, points, val_metric, train_loss)
