"""The whole simplifier: the report, and the paper's raw Program 8 to Lion on the default proxy."""

import math

import pytest

import dsl
import proxy_tasks
from simplify import simplifier
from simplify.scoring import Scorer

LION = """def train(w, g, m, lr):
  update = interp(g, m, {b1!r})
  update = sign(update)
  m = interp(g, m, {b2!r})
  wd = w * {wd!r}
  update = update + wd
  lr = lr * {lr!r}
  update = update * lr
  return update, m
"""


def test_exact_report_without_a_task():
  result = simplifier.simplify(dsl.library.load("program8"))
  assert result.task is None and result.trials == () and result.calibration is None
  report = result.report()
  assert [s.stage for s in result.steps][:2] == ["input", "prune"]
  for step in result.steps:
    assert step.hash == dsl.semantic_hash(step.program) and step.fitness is None
    assert step.hash in report and step.why
  assert report.rstrip().endswith(result.program.to_text().rstrip())


@pytest.mark.slow
def test_adamw_and_lion_unchanged_on_the_default_proxy():
  scorer = Scorer(proxy_tasks.DEFAULT_PROXY, seeds=simplifier.DEFAULT_SEEDS)
  for name in ("adamw", "lion"):
    program = dsl.library.load(name)
    result = simplifier.simplify(program, scorer)
    assert [s.stage for s in result.steps] == ["input"], result.report()
    assert result.program == program
    assert math.isfinite(result.steps[0].fitness)
    assert result.trials and not any(t.accepted for t in result.trials)


def test_weight_decay_is_protected_unless_asked():
  from simplify import ablation
  lion = dsl.library.load("lion")
  protected = {c.description for c in ablation.candidates(lion)}
  everything = {c.description for c in ablation.candidates(lion, keep_weight_decay=False)}
  assert "remove 'update = update + weight_decay'" in everything - protected


@pytest.mark.slow
def test_program8_becomes_lion_on_the_default_proxy():
  """No manual step: prune, exact rewrites, then clip and arcsin go by ablation."""
  scorer = Scorer(proxy_tasks.DEFAULT_PROXY, seeds=simplifier.DEFAULT_SEEDS)
  result = simplifier.simplify(dsl.library.load("program8"), scorer)
  program = result.program
  functions = {s.function for s in program.statements}
  assert program.num_states == 1
  assert functions == {"interp", "sign", "*", "+"}, program
  interps = {s.target: s.args[2] for s in program.statements if s.function == "interp"}
  wd = next(s.args[1] for s in program.statements if s.function == "*" and s.args[0] == "w")
  lr = next(s.args[1] for s in program.statements if s.function == "*" and s.args[0] == "lr")
  lion = dsl.parse(LION.format(b1=interps["update"], b2=interps["m"], wd=wd, lr=lr))
  assert dsl.semantic_hash(program) == dsl.semantic_hash(lion)
  assert interps["update"] == pytest.approx(0.9) and interps["m"] == pytest.approx(0.99822,
                                                                                 abs=1e-5)
  kept = [t for t in result.trials if t.accepted]
  assert {t.description for t in kept} == {"remove 'g = clip(g, lr)'",
                                           "remove 'g = arcsin(g)'"}
  baseline = result.steps[-1 - len(kept)].fitness
  for trial in kept:
    assert trial.fitness_after >= baseline - result.tolerance
  report = result.report()
  assert "KEPT round 1" in report and "step-size calibration" in report
  assert sum(1 for t in result.trials if not t.accepted) >= 5  # the rejected ones are shown
