"""Fitness of programs on a proxy task, for the report and for ablation, at a calibrated step.

``Scorer(task_name, seeds)`` scores programs with ``proxy_tasks.Evaluator`` on seeds
``0 .. seeds - 1`` (fitness ``log(metric(AdamW) / metric)``, higher is better, ``-inf`` on
failure), in batches (the evaluator trains several runs per compiled call).

Step-size calibration: a discovered program carries the peak learning rate of the task it was
found on (Program 8's ``lr * 0.000217``); on another task it may barely train (Program 8 on
the default proxy: fitness -2.06, every variant of it alike), and then removing a statement
"costs nothing" for the wrong reason. ``calibrate`` scores ``update * k`` for ``k`` on the
grid ``CALIBRATION_GRID`` (quarter decades, 0.1 to 1000) and keeps the best; ablation then
compares programs at their best factor of ``k * LOCAL_GRID`` (``k`` and a quarter decade on
either side), the way optimizers are compared at tuned learning rates (Chen et al., 2023,
Sec. 4): near the edge of stability a change that only moves the best step size would
otherwise read as a loss. The programs written out keep their own constants.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from dsl.program import Program, Statement
from dsl.scores import ranked_fitness

CALIBRATION_GRID = tuple(float(10.0 ** (e / 4)) for e in range(-4, 13))
# Around the calibrated factor each program is scored at its best of these multiples, so
# that a change which only moves the best step size a little is not mistaken for a loss.
LOCAL_GRID = (10.0 ** -0.25, 1.0, 10.0 ** 0.25)
SCALED_UPDATE = "scaled_update"

Score = Callable[[Sequence[Program]], list[float]]


def scaled(program: Program, factor: float) -> Program:
  """``program`` whose update is multiplied by ``factor`` (itself when ``factor == 1``)."""
  if factor == 1.0:
    return program
  taken = set(program.params) | {s.target for s in program.statements}
  name = SCALED_UPDATE
  while name in taken:
    name += "_"
  statement = Statement(name, "*", (program.returns[0], float(factor)))
  return program.replace(statements=program.statements + (statement,),
                         returns=(name,) + program.returns[1:])


class Scorer:
  """Scores programs on ``task_name`` over ``seeds`` seeds, the update scaled by ``factor``.

  Args:
    task_name: a registered proxy task (``proxy_tasks.names()``) or a user's
      ``package.module:factory`` (``proxy_tasks.resolve``).
    seeds: how many seeds (0, 1, ...); fitness is on their mean metric.
    overrides: task config overrides (e.g. ``steps=50`` in tests).
  """

  def __init__(self, task_name: str, seeds: int = 2, **overrides):
    import proxy_tasks  # pylint: disable=import-outside-toplevel  (JAX only when scoring)
    if seeds < 1:
      raise ValueError(f"seeds must be >= 1, got {seeds}")
    self.task = proxy_tasks.resolve(task_name, seeds=tuple(range(seeds)), **overrides)
    self.evaluator = proxy_tasks.Evaluator(self.task)
    self.factor = 1.0
    self.evaluations = 0

  @property
  def description(self) -> str:
    seeds = self.task.config.seeds
    return (f"{self.task.name}, seeds {', '.join(map(str, seeds))}, {self.task.config.steps} "
            f"steps, update x {self.factor:.4g}")

  def __call__(self, programs: Sequence[Program], factor: float | None = None) -> list[float]:
    """Fitness of each program: at ``factor`` when given, else the best over
    ``self.factor * LOCAL_GRID``."""
    factors = (factor,) if factor is not None else tuple(self.factor * m for m in LOCAL_GRID)
    batch = [scaled(p, k) for p in programs for k in factors]
    self.evaluations += len(batch)
    results = self.evaluator.evaluate(batch)
    fitness = [ranked_fitness(r.fitness) for r in results]
    width = len(factors)
    return [max(fitness[i * width:(i + 1) * width]) for i in range(len(programs))]


def calibrate(program: Program, score: Callable[..., list[float]],
              grid: Sequence[float] = CALIBRATION_GRID) -> tuple[float, list[float]]:
  """The factor of ``grid`` at which ``program`` scores best, and the score at each factor.

  ``score(programs, factor=1.0)`` must score unscaled programs; the grid's programs are
  scaled here and scored in one batch. Ties go to the factor closest to 1.
  """
  fitness = score([scaled(program, k) for k in grid], factor=1.0)
  order = sorted(range(len(grid)), key=lambda i: (-fitness[i], abs(np.log(grid[i]))))
  return grid[order[0]], fitness
