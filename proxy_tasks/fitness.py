"""Fitness over several tasks: a suite (mean log-ratio) and staged hurdles (AutoML-Zero).

Both compose ``proxy_tasks.Evaluator`` objects (anything with ``evaluate(programs) ->
results``) and are evaluators themselves, so workers, the driver and the cache see one
fitness per program as before.

**Suite** (``SuiteEvaluator``): every program is trained on every task; its fitness is the
mean over the tasks of ``log(metric(tuned AdamW) / metric)`` (each task's ``normalized``
fitness against its own tuned AdamW, so tasks of different metrics and scales weigh alike):

  fitness = (1 / T) sum_t log(metric_t(AdamW_t) / metric_t(program))

A program that fails on any task fails (its first failure is reported).

**Hurdles** (``StagedEvaluator``; Real et al., 2020, AutoML-Zero, Section 4.1): a program is
scored on a cheap stage first and goes on to the next (more expensive) stage only if its
fitness there clears the stage's hurdle: a fixed number, or ``median``, the median fitness of
the last ``window`` programs this evaluator scored at that stage (programs are children of
the population, so this tracks the population's median on the cheap task; until ``window``
programs have been seen everyone passes). A program's fitness is that of the last stage it
reached; all stages are normalised against tuned AdamW on their own task, so a stopped
program's fitness is on the same scale, and below the hurdle. Each result says how far it got
(``stage``) and how many seconds the stages it skipped would have cost at their running mean
per program (``saved_s``), which the search sums into ``metrics.csv``.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Sequence

import numpy as np

from dsl.program import Program
from proxy_tasks.evaluator import Result, failure

MEDIAN = "median"


@dataclasses.dataclass(frozen=True)
class StagedResult(Result):
  """A ``Result`` with the stage reached (0-based) and the seconds the skipped stages saved."""
  stage: int = 0
  saved_s: float = 0.0


class SuiteEvaluator:
  """Mean normalised fitness over several tasks' evaluators (see the module docstring)."""

  def __init__(self, evaluators: Sequence):
    if not evaluators:
      raise ValueError("a suite needs at least one task")
    self.evaluators = list(evaluators)

  def evaluate(self, programs: Sequence[Program]) -> list[Result]:
    per_task = [e.evaluate(list(programs)) for e in self.evaluators]
    out = []
    for results in zip(*per_task):
      seconds = sum(r.seconds for r in results)
      steps = sum(r.steps for r in results)
      failed = [r for r in results if not r.ok]
      if failed:
        out.append(failure(failed[0].status, failed[0].reason, seconds, steps))
        continue
      normalized = [r.normalized for r in results]
      if not all(math.isfinite(n) for n in normalized):  # a task without a reference
        normalized = [r.fitness for r in results]
      fitness = float(np.mean(normalized))
      out.append(Result(fitness, float(np.mean([r.metric for r in results])), fitness, "ok",
                        "", seconds, steps))
    return out


@dataclasses.dataclass
class Stage:
  """One stage: its evaluator and the hurdle a program must clear to go on (the last
  stage's hurdle is unused)."""
  evaluator: object
  hurdle: float | str = MEDIAN
  window: int = 100


class StagedEvaluator:
  """Hurdles: cheap stages first (see the module docstring)."""

  def __init__(self, stages: Sequence[Stage]):
    if not stages:
      raise ValueError("staged fitness needs at least one stage")
    self.stages = list(stages)
    self._recent = [collections.deque(maxlen=max(1, s.window)) for s in self.stages]
    self._seconds = [[0.0, 0] for _ in self.stages]  # total seconds, programs, per stage

  def threshold(self, index: int) -> float:
    """The hurdle of stage ``index`` now (``-inf`` while its median window is filling)."""
    stage = self.stages[index]
    if stage.hurdle != MEDIAN:
      return float(stage.hurdle)
    recent = self._recent[index]
    if len(recent) < recent.maxlen:
      return -math.inf
    return float(np.median(recent))

  def _mean_seconds(self, index: int) -> float:
    total, count = self._seconds[index]
    return total / count if count else 0.0

  def evaluate(self, programs: Sequence[Program]) -> list[StagedResult]:
    programs = list(programs)
    final: dict[int, tuple[Result, int]] = {}
    alive = list(range(len(programs)))
    for index, stage in enumerate(self.stages):
      if not alive:
        break
      threshold = self.threshold(index)
      results = stage.evaluator.evaluate([programs[i] for i in alive])
      going_on = []
      for i, result in zip(alive, results):
        self._seconds[index][0] += result.seconds
        self._seconds[index][1] += 1
        final[i] = (result, index)
        fitness = result.fitness if result.ok else -math.inf
        if result.ok:
          self._recent[index].append(fitness)
        if index + 1 < len(self.stages) and result.ok and fitness >= threshold:
          going_on.append(i)
      alive = going_on
    out = []
    for i in range(len(programs)):
      result, reached = final[i]
      saved = sum(self._mean_seconds(k) for k in range(reached + 1, len(self.stages)))
      out.append(StagedResult(**dataclasses.asdict(result), stage=reached, saved_s=saved))
    return out


def build(name: str, overrides: dict | None = None, suite: dict | None = None,
          hurdles: dict | None = None) -> SuiteEvaluator | StagedEvaluator | object:
  """The search's evaluator from its task config: ``name`` with ``overrides``, plus a
  ``suite`` (task name -> overrides) and ``hurdles`` (task name -> ``{"overrides",
  "threshold", "window"}``, in order). Workers build it by import path
  (``search.workers.build_evaluator``)."""
  from proxy_tasks import registry  # pylint: disable=import-outside-toplevel
  from proxy_tasks.evaluator import Evaluator  # pylint: disable=import-outside-toplevel

  def evaluator(task_name: str, task_overrides: dict | None) -> Evaluator:
    return Evaluator(registry.resolve(task_name, **dict(task_overrides or {})))

  final = evaluator(name, overrides)
  if suite:
    final = SuiteEvaluator([final] + [evaluator(n, o) for n, o in suite.items()])
  if not hurdles:
    return final
  stages = [Stage(evaluator(n, h.get("overrides")), h.get("threshold", MEDIAN),
                  int(h.get("window", 100))) for n, h in hurdles.items()]
  return StagedEvaluator(stages + [Stage(final)])
