"""Programs that produce NaN, infinities or enormous values, or run out of time: each run ends
early (bounded), its result records a failure status and a reason, nothing raises, and the
good programs of the same batch score exactly as they do alone. (``test_evaluator`` has the
single cases; here they share batches.)"""

import math

import pytest

import dsl
import proxy_tasks
from search import workers

STEPS = 60
GOOD = ("sgd", "lion", "adamw", "signum")
HEADER = "def train(w, g, m, lr):\n"
# name: (program body, the statuses it may end with)
BAD = {
    "nan": ("  a = arcsin(2.0)\n  u = g * a\n  return u, m\n", {"nan"}),
    "inf": ("  u = g * 1e30\n  u = u * 1e30\n  return u, m\n", {"nan", "diverged"}),
    "enormous step": ("  u = g * 1e20\n  return u, m\n", {"nan", "diverged"}),
    "exp overflow": ("  u = g * 1000.0\n  u = exp(u)\n  return u, m\n", {"nan", "diverged"}),
    "state overflows": ("  m = m * 1e10\n  m = m + g\n  z = m * 0.0\n  u = g * lr\n"
                        "  u = u * 0.01\n  u = u + z\n  return u, m\n", {"nan", "diverged"}),
    "infinite constant": ("  u = g * 1e999\n  return u, m\n", {"nan", "diverged"}),
    "division by zero": ("  z = g * 0.0\n  u = g / z\n  return u, m\n", {"nan", "diverged"}),
}


def _bad(name: str) -> dsl.Program:
  return dsl.parse(HEADER + BAD[name][0])


@pytest.fixture(scope="module", name="evaluator")
def _evaluator():
  return proxy_tasks.Evaluator(proxy_tasks.get("linear_regression", steps=STEPS), slots=4)


@pytest.fixture(scope="module", name="alone")
def _alone(evaluator):
  return {name: evaluator.evaluate([dsl.library.load(name)])[0] for name in GOOD}


def _interleaved():
  """Good and bad programs taking turns, so bad ones share every compiled call."""
  bad = list(BAD)
  names = [name for i in range(len(bad)) for name in (GOOD[i % len(GOOD)], bad[i])]
  return names, [dsl.library.load(n) if n in GOOD else _bad(n) for n in names]


def test_bad_values_end_their_runs_and_leave_the_good_ones_unchanged(evaluator, alone):
  names, programs = _interleaved()
  results = evaluator.evaluate(programs)
  assert len(results) == len(programs)
  for name, result in zip(names, results):
    if name in GOOD:
      assert result.status == "ok" and result.metric == alone[name].metric, name
      assert result.fitness == alone[name].fitness
    else:
      assert result.status in BAD[name][1], (name, result)
      assert result.reason and result.fitness == -math.inf and math.isnan(result.metric)
      assert result.steps < STEPS, (name, result)  # cut short, not trained to the end


def test_the_records_a_worker_sends_are_plain_finite_data(evaluator):
  names, programs = _interleaved()
  records = workers.score(evaluator, [(i, p.to_text()) for i, p in enumerate(programs)])
  for name, record in zip(names, records):
    assert (record["status"] == "ok") == (name in GOOD), (name, record)
    assert record["status"] in proxy_tasks.STATUSES and isinstance(record["reason"], str)
    assert (record["fitness"] == -math.inf) == (name not in GOOD)


def test_runs_out_of_time_end_after_their_chunk_and_are_recorded():
  """A budget of 0 s: every run that has not failed within its first chunk is out of time
  there, and says so; the evaluator goes on scoring batches (a time-out is a result)."""
  chunks = 6
  task = proxy_tasks.get("linear_regression", steps=STEPS, time_budget_s=0.0, chunks=chunks)
  hurried = proxy_tasks.Evaluator(task, slots=4, normalize=False)
  names, programs = _interleaved()
  for _ in range(2):
    results = hurried.evaluate(programs)
    for name, result in zip(names, results):
      assert result.steps <= STEPS // chunks, (name, result)
      if name in GOOD:
        assert result.status == "timeout" and "time budget" in result.reason
      else:
        assert result.status in BAD[name][1] | {"timeout"} and result.reason
      assert result.fitness == -math.inf
