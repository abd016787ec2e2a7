"""Ablation: candidates, the acceptance rule, the fixed point; on a fake score and a toy task."""

import math

import pytest

import dsl
from simplify import ablation, exact
from simplify.scoring import Scorer, calibrate, scaled

PROGRAM8_LION = exact.simplified(dsl.library.load("program8"))


def _functions(program):
  return {s.function for s in program.statements}


def test_candidates_are_distinct_valid_and_simplified():
  options = ablation.candidates(PROGRAM8_LION)
  hashes = [dsl.semantic_hash(c.program) for c in options]
  assert len(set(hashes)) == len(hashes)
  assert dsl.semantic_hash(PROGRAM8_LION) not in hashes
  for option in options:
    assert dsl.is_valid(option.program)
    assert exact.simplified(option.program) == option.program
  descriptions = [c.description for c in options]
  assert "remove 'g = clip(g, lr)'" in descriptions
  assert "remove 'g = arcsin(g)'" in descriptions
  # Constants are hyperparameters, never bypassed; clip is never replaced by its scalar.
  assert not any("bypass 'wd = w *" in d or "(use lr)" in d for d in descriptions)


def _count(program, function):
  return sum(s.function == function for s in program.statements)


def _fake_score(costs):
  """Fitness 1 minus ``costs[f]`` per call of ``f`` fewer than in Program 8's Lion form (a
  known answer)."""
  def score(programs, factor=None):
    return [1.0 - sum(c * max(0, _count(PROGRAM8_LION, f) - _count(p, f))
                      for f, c in costs.items()) for p in programs]
  return score


def test_ablation_removes_what_costs_nothing_and_keeps_the_rest():
  costs = {"clip": 0.0, "arcsin": 0.01, "sign": 3.0, "interp": 2.0, "+": 0.5, "*": 9.0}
  outcome = ablation.ablate(PROGRAM8_LION, _fake_score(costs), tolerance=0.05)
  assert "clip" not in _functions(outcome.program)
  assert "arcsin" not in _functions(outcome.program)
  assert {"sign", "interp", "+", "*"} <= _functions(outcome.program)
  assert outcome.baseline == 1.0 and outcome.fitness == pytest.approx(0.99)
  kept = [t for t in outcome.trials if t.accepted]
  assert len(kept) == 2 and all(t.fitness_after >= 1.0 - 0.05 for t in kept)
  for trial in outcome.trials:  # every trial reports before and after
    assert math.isfinite(trial.fitness_before)


def test_tolerance_bounds_the_total_cost():
  costs = {"clip": 0.03, "arcsin": 0.03, "sign": 3.0, "interp": 2.0, "+": 0.5, "*": 9.0}
  outcome = ablation.ablate(PROGRAM8_LION, _fake_score(costs), tolerance=0.05)
  removed = {"clip", "arcsin"} - _functions(outcome.program)
  assert len(removed) == 1  # both would cost 0.06 > 0.05 together
  assert outcome.fitness >= outcome.baseline - 0.05


def test_zero_tolerance_keeps_everything_that_costs():
  costs = {"clip": 0.01, "arcsin": 0.01, "sign": 3.0, "interp": 2.0, "+": 0.5, "*": 9.0}
  outcome = ablation.ablate(PROGRAM8_LION, _fake_score(costs), tolerance=0.0)
  assert outcome.program == PROGRAM8_LION
  assert not any(t.accepted for t in outcome.trials)


def test_negative_tolerance_is_an_error():
  with pytest.raises(ValueError, match="tolerance"):
    ablation.ablate(PROGRAM8_LION, _fake_score({}), tolerance=-1.0)


def test_scaled_multiplies_the_update():
  program = dsl.library.load("sgd")
  doubled = scaled(program, 2.0)
  assert doubled.statements[-1] == dsl.Statement("scaled_update", "*", ("update", 2.0))
  assert doubled.returns == ("scaled_update",)
  assert scaled(program, 1.0) is program


def test_calibrate_picks_the_best_factor():
  def score(programs, factor=None):
    return [-abs(math.log10(p.statements[-1].args[1]) - 1.5) if p.statements[-1].target
            == "scaled_update" else -9.0 for p in programs]
  factor, fitness = calibrate(dsl.library.load("sgd"), score)
  assert factor == pytest.approx(10 ** 1.5)
  assert max(fitness) == pytest.approx(0.0)


def test_ablation_on_a_toy_task():
  """Real training (the quadratic toy): the wasted statements go, the update rule stays."""
  program = dsl.parse("def train(w, g, m, lr):\n  g = clip(g, 100.0)\n  m = interp(g, m, 0.9)\n"
                      "  u = sign(m)\n  u = tanh(u)\n  lr = lr * 0.05\n  update = u * lr\n"
                      "  return update, m\n")
  scorer = Scorer("quadratic", seeds=1, steps=60)
  baseline = scorer([program])[0]
  assert math.isfinite(baseline)
  outcome = ablation.ablate(program, scorer, tolerance=0.5, baseline=baseline)
  assert outcome.fitness >= baseline - 0.5
  assert len(outcome.program.statements) < len(program.statements)
  assert "clip" not in {s.function for s in outcome.program.statements}
  assert any(t.accepted for t in outcome.trials)
  assert all(math.isfinite(t.fitness_before) for t in outcome.trials)
