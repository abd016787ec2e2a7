"""The evaluator: equivalence with the per-program reference, failure statuses, determinism."""

import math
import pickle

import pytest

import dsl
import proxy_tasks
from proxy_tasks import reference

TOY = "linear_regression"


def _program(text: str) -> dsl.Program:
  return dsl.parse(text)


NAN_PROGRAM = "def train(w, g, lr):\n  a = arcsin(2.0)\n  u = g * a\n  return u\n"
INF_PROGRAM = "def train(w, g, lr):\n  u = w * 1e30\n  u = u * 1e30\n  u = u - 1.0\n  return u\n"
ASCENT_PROGRAM = "def train(w, g, lr):\n  u = g * lr\n  u = u * -0.5\n  return u\n"
STILL_PROGRAM = "def train(w, g, lr):\n  u = w * 0.0\n  return u\n"


@pytest.fixture(scope="module")
def toy():
  task = proxy_tasks.get(TOY, steps=60)
  return task, proxy_tasks.Evaluator(task, slots=4)


def test_every_builtin_matches_the_reference_on_a_toy(toy):
  task, evaluator = toy
  names = dsl.library.names()
  results = evaluator.evaluate([dsl.library.load(n) for n in names])
  for name, result in zip(names, results):
    expected = reference.metric(task, dsl.library.load(name))
    assert result.status == "ok", (name, result)
    assert result.metric == pytest.approx(expected, rel=1e-5, abs=1e-7), name


@pytest.mark.slow
def test_every_builtin_matches_the_reference_on_the_mlp():
  task = proxy_tasks.get("mlp_digits", steps=40)
  names = dsl.library.names()
  results = proxy_tasks.Evaluator(task).evaluate([dsl.library.load(n) for n in names])
  for name, result in zip(names, results):
    expected = reference.metric(task, dsl.library.load(name))
    assert result.status == "ok", (name, result)
    assert result.metric == pytest.approx(expected, rel=1e-5), name


def test_tuned_adamw_is_the_zero_of_the_normalized_fitness(toy):
  task, evaluator = toy
  assert task.config.fitness_reference == "tuned_adamw"
  tuned, metric = evaluator.reference
  tuning = evaluator.reference_tuning
  assert tuned == tuning.program and tuning.runs >= task.config.tuning_budget
  grid = [tuning.program] + [proxy_tasks.tuning.library_space(tuning.label).apply(point)
                             for point, _ in tuning.trials]
  results = evaluator.evaluate([tuned] + grid)
  assert results[0].normalized == pytest.approx(0.0, abs=1e-9)
  assert results[0].metric == pytest.approx(metric, rel=1e-6)
  assert results[0].fitness == results[0].normalized
  assert all(r.fitness <= 1e-6 for r in results[1:])  # the best point tuned is the zero
  library, = evaluator.evaluate([dsl.library.load("adamw")])
  assert library.fitness < 0  # lr 1e-3 is far from tuned on 60 steps


def test_the_library_adamw_can_be_the_reference():
  task = proxy_tasks.get(TOY, steps=60, fitness_reference="adamw")
  evaluator = proxy_tasks.Evaluator(task, slots=4)
  result, better = evaluator.evaluate([dsl.library.load("adamw"), dsl.library.load("sgd")])
  assert result.normalized == pytest.approx(0.0, abs=1e-9)
  assert better.metric < result.metric and better.fitness > 0  # lr 0.1 beats AdamW's 1e-3


def test_without_a_reference_fitness_is_minus_the_metric():
  task = proxy_tasks.get(TOY, steps=20, fitness_reference="none")
  result, = proxy_tasks.Evaluator(task, slots=4).evaluate([dsl.library.load("sgd")])
  assert result.fitness == -result.metric and math.isnan(result.normalized)


def test_an_unknown_reference_is_refused():
  with pytest.raises(ValueError, match="fitness_reference must be one of"):
    proxy_tasks.get(TOY, fitness_reference="adam")


def test_failures_get_their_status_and_the_worst_fitness(toy):
  _, evaluator = toy
  nan, ascent = evaluator.evaluate([_program(NAN_PROGRAM), _program(ASCENT_PROGRAM)])
  assert nan.status == "nan" and "nan" in nan.reason and nan.steps <= 3
  assert ascent.status == "diverged" and ascent.steps < 60
  for result in (nan, ascent):
    assert result.fitness == -math.inf and math.isnan(result.metric)


def test_an_infinite_loss_ends_the_run():
  task = proxy_tasks.get("quadratic", steps=30, noise=0.0)
  inf, = proxy_tasks.Evaluator(task, normalize=False).evaluate([_program(INF_PROGRAM)])
  assert inf.status == "nan" and "inf" in inf.reason and inf.steps == 2
  assert inf.fitness == -math.inf


def test_hopeless_runs_stop_early_when_asked():
  task = proxy_tasks.get(TOY, steps=60, early_stop_fraction=0.25, early_stop_ratio=0.9)
  still, sgd = proxy_tasks.Evaluator(task, normalize=False).evaluate(
      [_program(STILL_PROGRAM), dsl.library.load("sgd")])
  assert still.status == "early_stopped" and still.steps == 16
  assert sgd.status == "ok"
  never = proxy_tasks.get(TOY, steps=60)  # early stopping off by default
  still, = proxy_tasks.Evaluator(never, normalize=False).evaluate([_program(STILL_PROGRAM)])
  assert still.status == "ok"


def test_time_budget_ends_runs():
  task = proxy_tasks.get(TOY, steps=60, time_budget_s=0.0, chunks=4)
  result, = proxy_tasks.Evaluator(task, normalize=False).evaluate([dsl.library.load("sgd")])
  assert result.status == "timeout" and result.fitness == -math.inf
  assert result.steps == 15


def test_invalid_and_too_long_programs_are_errors(toy):
  _, evaluator = toy
  unknown = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "no_such_function", ("g",)),),
                        ("u",))
  long_text = "def train(w, g, lr):\n  u = g * 0.001\n" + "  u = u * 1.0\n" * 130 + "  return u\n"
  bad, too_long = evaluator.evaluate([unknown, _program(long_text)])
  assert bad.status == "error" and "no_such_function" in bad.reason
  assert too_long.status == "error" and "128" in too_long.reason


def test_one_bad_program_does_not_change_its_batch(toy):
  _, evaluator = toy
  good = [dsl.library.load("sgd"), dsl.library.load("lion"), dsl.library.load("addsign")]
  alone = [evaluator.evaluate([p])[0] for p in good]
  unknown = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "nope", ("g",)),), ("u",))
  mixed = evaluator.evaluate([good[0], _program(NAN_PROGRAM), good[1], unknown, good[2],
                              _program(ASCENT_PROGRAM)])
  assert [r.status for r in mixed] == ["ok", "nan", "ok", "error", "ok", "diverged"]
  assert [mixed[0].metric, mixed[2].metric, mixed[4].metric] == [r.metric for r in alone]


def test_same_seed_same_fitness_other_seed_other_fitness():
  programs = [dsl.library.load("sgd_momentum"), dsl.library.load("lion")]
  first = proxy_tasks.Evaluator(proxy_tasks.get(TOY, steps=30, seed=3)).evaluate(programs)
  again = proxy_tasks.Evaluator(proxy_tasks.get(TOY, steps=30, seed=3)).evaluate(programs)
  other = proxy_tasks.Evaluator(proxy_tasks.get(TOY, steps=30, seed=4)).evaluate(programs)
  assert [r.fitness for r in first] == [r.fitness for r in again]
  assert all(a.metric != b.metric for a, b in zip(first, other))


def test_several_seeds_average_their_metrics():
  program = dsl.library.load("sgd_momentum")
  both, = proxy_tasks.Evaluator(proxy_tasks.get(TOY, steps=30, seeds=(1, 2)),
                                normalize=False).evaluate([program])
  one = [proxy_tasks.Evaluator(proxy_tasks.get(TOY, steps=30, seed=s),
                               normalize=False).evaluate([program])[0].metric for s in (1, 2)]
  assert both.metric == pytest.approx(sum(one) / 2, rel=1e-6)
  assert both.steps == 60


def test_results_are_picklable(toy):
  _, evaluator = toy
  results = evaluator.evaluate([dsl.library.load("sgd"), _program(NAN_PROGRAM)])
  assert repr(pickle.loads(pickle.dumps(results))) == repr(results)
  assert set(r.status for r in results) <= set(proxy_tasks.STATUSES)


def test_threads_give_the_same_results():
  task = proxy_tasks.get(TOY, steps=30)
  programs = [dsl.library.load(n) for n in dsl.library.names()]
  serial = proxy_tasks.Evaluator(task, slots=2).evaluate(programs)
  threaded = proxy_tasks.Evaluator(task, slots=2, threads=2).evaluate(programs)
  assert [r.metric for r in serial] == [r.metric for r in threaded]
