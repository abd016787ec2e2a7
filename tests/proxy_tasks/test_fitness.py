"""proxy_tasks.fitness: suite fitness and staged hurdles, on fake and real evaluators."""

import math

import pytest

import dsl
from proxy_tasks import fitness
from proxy_tasks.evaluator import Result, failure


class _Table:
  """Fitness from a table keyed by the program's learning-rate constant (its last number)."""

  def __init__(self, table, seconds=1.0):
    self.table, self.seconds, self.seen = table, seconds, []

  def evaluate(self, programs):
    out = []
    for program in programs:
      key = program.statements[-2].args[1]  # lr = lr * c in AdamW
      self.seen.append(key)
      value = self.table[key]
      out.append(failure("nan", "boom", self.seconds) if value is None else
                 Result(value, 1.0, value, "ok", "", self.seconds, 10))
    return out


def _adamw(lr):
  from dsl import hyperparameters  # pylint: disable=import-outside-toplevel
  return hyperparameters.with_hyperparameters(dsl.library.load("adamw"), lr=lr)


def test_suite_fitness_is_the_mean_log_ratio_and_fails_with_any_task():
  suite = fitness.SuiteEvaluator([_Table({0.1: 0.2, 0.2: 0.4}), _Table({0.1: -0.1, 0.2: None})])
  good, bad = suite.evaluate([_adamw(0.1), _adamw(0.2)])
  assert good.fitness == pytest.approx(0.05) and good.ok and good.seconds == 2.0
  assert bad.status == "nan" and bad.fitness == -math.inf


def test_only_programs_that_clear_the_hurdle_reach_the_expensive_stage():
  cheap = _Table({0.1: 0.5, 0.2: -0.5, 0.3: None}, seconds=1.0)
  expensive = _Table({0.1: 0.7, 0.2: 9.0, 0.3: 9.0}, seconds=10.0)
  staged = fitness.StagedEvaluator([fitness.Stage(cheap, 0.0), fitness.Stage(expensive)])
  first, second, third = staged.evaluate([_adamw(0.1), _adamw(0.2), _adamw(0.3)])
  assert expensive.seen == [0.1]  # the others never trained on it
  assert (first.fitness, first.stage, first.saved_s) == (0.7, 1, 0.0)
  assert (second.fitness, second.stage) == (-0.5, 0) and second.saved_s == 10.0
  assert third.status == "nan" and third.stage == 0


def test_the_median_hurdle_lets_everyone_through_until_its_window_is_full():
  cheap = _Table({0.1: 1.0, 0.2: 2.0, 0.3: 3.0, 0.4: 0.5})
  expensive = _Table({0.1: 1.0, 0.2: 2.0, 0.3: 3.0, 0.4: 0.5})
  staged = fitness.StagedEvaluator([fitness.Stage(cheap, "median", window=3),
                                    fitness.Stage(expensive)])
  staged.evaluate([_adamw(0.1), _adamw(0.2), _adamw(0.3)])
  assert expensive.seen == [0.1, 0.2, 0.3] and staged.threshold(0) == 2.0
  (result,) = staged.evaluate([_adamw(0.4)])
  assert result.stage == 0 and expensive.seen == [0.1, 0.2, 0.3]


def test_build_makes_real_suites_and_stages():
  evaluator = fitness.build("quadratic", {"steps": 20}, suite={"linear_regression": {"steps": 20}},
                            hurdles={"rosenbrock": {"overrides": {"steps": 10},
                                                    "threshold": -1e9}})
  assert isinstance(evaluator, fitness.StagedEvaluator)
  assert isinstance(evaluator.stages[-1].evaluator, fitness.SuiteEvaluator)
  (result,) = evaluator.evaluate([dsl.library.load("adamw")])
  assert result.stage == 1 and math.isfinite(result.fitness)
