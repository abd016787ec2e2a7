"""Equal-budget tuning: AdamW and Lion over a learning-rate x weight-decay grid, the program
under test over a learning-rate multiplier grid of the same size.

A comparison against untuned baselines flatters a found program (its constants were selected
on the proxy); Chen et al. (2023) compare against tuned AdamW. Here every optimizer gets the
same number of tuning runs:

* AdamW and Lion: ``dsl.hyperparameters.GRIDS`` (5 learning rates x 3 weight decays), made
  by rewriting the built-in programs' constants (``dsl.hyperparameters.grid``);
* the program: ``LR_MULTIPLIERS`` (as many as AdamW's grid has points: 15 values, 10^((k - 7)/4)
  for k = 0..14, from 0.018 to 56, so 1 is one of them), made by appending ``update = update * m`` to it: the update it returns is scaled by
  ``m``, which is a learning-rate multiplier whatever the program's learning-rate constant is,
  and needs no knowledge of its structure.

Every grid point is scored by ``proxy_tasks.Evaluator`` (batched, the search's own scoring) on
one tuning seed; the best point (lowest validation metric) of each optimizer is then run on
the evaluation seeds by the caller.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np

import dsl
import proxy_tasks
from dsl import hyperparameters
from dsl.files import json_float
from dsl.program import Program, Statement

_GRID_POINTS = (len(hyperparameters.GRIDS["adamw"]["lr"])
                * len(hyperparameters.GRIDS["adamw"]["wd"]))
LR_MULTIPLIERS = tuple(float(f"{10 ** ((k - _GRID_POINTS // 2) / 4):.4g}")
                       for k in range(_GRID_POINTS))
BASELINES = ("adamw", "lion")
# AdamW tuned like a program: its grid-tuned point with the learning-rate multipliers on top.
REFINED_ADAMW = "adamw_refined"


def scale_update(program: Program, multiplier: float) -> Program:
  """``program`` with its returned update multiplied by ``multiplier`` (a last statement
  ``update = update * multiplier``); the program itself when ``multiplier == 1``."""
  if multiplier == 1.0:
    return program
  update = program.returns[0]
  scaled = Statement(update, "*", (update, float(multiplier)))
  return program.replace(statements=program.statements + (scaled,))


@dataclasses.dataclass(frozen=True)
class GridPoint:
  """One tuning run: which optimizer, its hyperparameters, the program that encodes them."""
  optimizer: str
  hyperparameters: dict
  program: Program


def grid(optimizer: str, program: Program | None = None) -> list[GridPoint]:
  """The tuning grid of ``optimizer`` (``adamw``, ``lion``, or any label with ``program``)."""
  if optimizer in BASELINES and program is None:
    return [GridPoint(optimizer, point, rewritten) for point, rewritten in hyperparameters.grid(
        dsl.library.load(optimizer), hyperparameters.GRIDS[optimizer])]
  if program is None:
    raise ValueError(f"grid: no program for optimizer '{optimizer}'")
  return [GridPoint(optimizer, {"lr_multiplier": m}, scale_update(program, m))
          for m in LR_MULTIPLIERS]


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

  One ``proxy_tasks.Evaluator`` per seed (``evaluator_for``; reused from ``evaluators``),
  each scoring all programs in batches (it compiles once per task and seed). ``on_done(n)``
  is told after every batch of ``n`` runs.
  """
  programs = list(programs)
  metrics = np.full((len(programs), len(seeds)), math.nan)
  for column, seed in enumerate(seeds):
    evaluator = evaluator_for(task_name, seed, evaluators, **overrides)
    batch = evaluator.slots
    for start in range(0, len(programs), batch):
      chunk = programs[start:start + batch]
      for offset, result in enumerate(evaluator.evaluate(chunk)):
        metrics[start + offset, column] = result.metric if result.ok else math.nan
      if on_done is not None:
        on_done(len(chunk))
  return metrics


def log_ratio(reference: float, metric: float) -> float:
  """``log(reference / metric)``: > 0 when ``metric`` (lower is better) beats the reference;
  NaN when either is not a finite positive number."""
  if not (math.isfinite(reference) and math.isfinite(metric)) or reference <= 0 or metric <= 0:
    return math.nan
  return math.log(reference / metric)


def refined_adamw_grid(adamw: "Tuned") -> list[GridPoint]:
  """The multiplier grid of the programs, applied to AdamW's tuned point: AdamW tuned the
  way a program is, after its own grid. The multipliers are finer than AdamW's
  learning-rate steps (10^(1/4) against ~3x), so this AdamW is a little better (+0.005 on
  ``lm_sklearn_text_10x``); a program is held to the better of the two."""
  base = adamw.best
  return [GridPoint(REFINED_ADAMW, {**base.hyperparameters, **point.hyperparameters},
                    point.program) for point in grid(REFINED_ADAMW, base.program)]


@dataclasses.dataclass(frozen=True)
class Tuned:
  """The best grid point of one optimizer and every point's metric (NaN: failed)."""
  best: GridPoint
  best_metric: float
  points: tuple[GridPoint, ...]
  metrics: tuple[float, ...]

  def to_json(self) -> dict:
    return {"best": self.best.hyperparameters,
            "best_metric": json_float(self.best_metric),
            "grid": [dict(p.hyperparameters, metric=json_float(m))
                     for p, m in zip(self.points, self.metrics)]}



def tune(task_name: str, grids: dict[str, list[GridPoint]], seed: int = 0,
         on_done: Callable[[int], None] | None = None, evaluators: dict | None = None,
         **overrides) -> dict[str, Tuned]:
  """Scores every grid point on ``seed``; the best point of each optimizer.

  An optimizer whose every point fails keeps its first point (metric NaN), so the caller still
  reports it (as failed) rather than silently dropping it.
  """
  labels = [(name, point) for name, points in grids.items() for point in points]
  metrics = score_per_seed(task_name, [p.program for _, p in labels], (seed,), on_done,
                           evaluators, **overrides)[:, 0]
  tuned = {}
  for name, points in grids.items():
    values = [float(m) for (label, _), m in zip(labels, metrics) if label == name]
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    best = min(finite, key=lambda i: values[i]) if finite else 0
    tuned[name] = Tuned(points[best], values[best], tuple(points), tuple(values))
  return tuned
