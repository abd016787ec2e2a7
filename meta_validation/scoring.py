"""Scoring programs on a meta-validation task, seed by seed, and tuning there.

Tuning itself is ``proxy_tasks.tuning`` (one procedure, one rule for the best point); this
module only gives it a way to score: one ``proxy_tasks.Evaluator`` per task and seed
(``evaluator_for``, compiled once and kept in a cache the caller owns), scoring whole batches
so that its slots train together.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

import proxy_tasks
from dsl.program import Program
from proxy_tasks import tuning


def evaluator_for(task_name: str, seed: int, evaluators: dict | None = None,
                  **overrides) -> proxy_tasks.Evaluator:
  """The (unnormalised) evaluator of ``task_name`` on one seed; kept in ``evaluators`` (a
  cache the caller owns, by task, seed and overrides) so that it compiles once."""
  key = (task_name, int(seed), repr(sorted(overrides.items())))
  if evaluators is not None and key in evaluators:
    return evaluators[key]
  evaluator = proxy_tasks.Evaluator(proxy_tasks.get(task_name, seed=int(seed), **overrides),
                                    normalize=False)
  if evaluators is not None:
    evaluators[key] = evaluator
  return evaluator


def score_per_seed(task_name: str, programs: Sequence[Program], seeds: Sequence[int],
                   on_done: Callable[[int], None] | None = None,
                   evaluators: dict | None = None, **overrides) -> np.ndarray:
  """``[programs, seeds]`` validation metrics (lower is better; NaN for a failed run).

  One evaluator per seed (``evaluator_for``; reused from ``evaluators``), each scoring all
  programs in batches. ``on_done(n)`` is told after every batch of ``n`` runs.
  """
  programs = list(programs)
  metrics = np.full((len(programs), len(seeds)), math.nan)
  for column, seed in enumerate(seeds):
    evaluator = evaluator_for(task_name, seed, evaluators, **overrides)
    batch = evaluator.slots * evaluator.threads
    for start in range(0, len(programs), batch):
      chunk = programs[start:start + batch]
      for offset, result in enumerate(evaluator.evaluate(chunk)):
        metrics[start + offset, column] = result.metric if result.ok else math.nan
      if on_done is not None:
        on_done(len(chunk))
  return metrics


def tune(task_name: str, spaces: dict[str, tuning.Space], seed: int = 0,
         budget: int = tuning.DEFAULT_BUDGET, on_done: Callable[[int], None] | None = None,
         evaluators: dict | None = None, **overrides) -> dict[str, tuning.Tuned]:
  """``proxy_tasks.tuning.tune`` of ``spaces`` on ``task_name``, every run on ``seed`` (its
  rounds share one compiled evaluator: ``evaluators``, or a cache of this call's own)."""
  evaluators = {} if evaluators is None else evaluators

  def score(programs: list[Program]) -> list[float]:
    return list(score_per_seed(task_name, programs, (seed,), on_done, evaluators,
                               **overrides)[:, 0])
  return tuning.tune(spaces, score, budget)
