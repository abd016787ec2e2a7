"""10,000 random programs through the evaluator: valid ones (chains of search mutations from
AdamW, random programs of 0 to 4 states) and raw ones that are invalid (unknown functions,
wrong arity, undefined variables, trees where scalars belong, wrong returns, too long). No
crash; one result per program, each with a status of ``proxy_tasks.STATUSES``; every failure
has a reason and the worst fitness; a valid program never fails as ``error``.
"""

import collections
import math

import numpy as np
import pytest

import dsl
import proxy_tasks
from dsl import functions as fns
from dsl.program import Program, Statement
from search import mutation, workers

VALID_CHAINS, VALID_RANDOM, RAW = 4000, 3000, 3000


def mutation_chains(rng: np.random.Generator, count: int) -> list[Program]:
  """What a search makes: each program a mutation of the one before (AdamW every ~20)."""
  out, program = [], dsl.library.load("adamw")
  while len(out) < count:
    if rng.random() < 0.05:
      program = dsl.library.load("adamw")
    program, _ = mutation.mutate(program, rng, max_length=30)
    out.append(program)
  return out


def random_valid(rng: np.random.Generator, count: int) -> list[Program]:
  return [mutation.random_program(rng, int(rng.integers(0, 5)), int(rng.integers(1, 25)))
          for _ in range(count)]


def _raw_statement(rng: np.random.Generator, names: list[str]) -> Statement:
  """A statement that may call anything with anything."""
  kind = rng.integers(6)
  if kind == 0:  # a function that does not exist
    function = str(rng.choice(["frobnicate", "softmax", "eval", ""]))
  else:
    function = fns.FUNCTIONS[rng.integers(len(fns.FUNCTIONS))].name
  arity = int(rng.integers(0, 4)) if kind == 1 else fns.BY_NAME.get(
      function, fns.FUNCTIONS[0]).arity
  args = []
  for _ in range(arity):
    choice = rng.integers(10)
    if choice == 0:
      args.append(f"undefined{rng.integers(3)}")
    elif choice <= 2:
      args.append(float(rng.choice([0.0, -0.0, 1e38, -1e38, 1e-45, math.inf, -math.inf,
                                    math.nan, rng.normal()])))
    else:
      args.append(str(rng.choice(names)))
  target = str(rng.choice(names)) if rng.random() < 0.5 else f"t{rng.integers(40)}"
  return Statement(target, function, tuple(args))


def raw_programs(rng: np.random.Generator, count: int) -> list[Program]:
  """Programs built without any check: most are invalid, some happen to be valid."""
  out = []
  for _ in range(count):
    states = [f"s{i}" for i in range(int(rng.integers(0, 5)))]
    params = ["w", "g", *states, "lr"]
    length = int(rng.integers(0, 140)) if rng.random() < 0.05 else int(rng.integers(0, 20))
    statements, names = [], list(params)
    for _ in range(length):
      statement = _raw_statement(rng, names)
      statements.append(statement)
      names.append(statement.target)
    returns = [str(rng.choice(names)) for _ in range(len(states) + 1 + int(rng.integers(-1, 2)))]
    out.append(Program(tuple(params), tuple(statements), tuple(returns)))
  return out


def _check(programs, results, valid):
  assert len(results) == len(programs)
  for program, result, is_valid in zip(programs, results, valid):
    assert result.status in proxy_tasks.STATUSES, result
    if result.ok:
      assert math.isfinite(result.fitness) and math.isfinite(result.metric), result
      assert not result.reason
    else:
      assert result.fitness == -math.inf and result.reason, result
    if result.status == "error":
      assert not is_valid, (program.to_text(), result.reason)


@pytest.fixture(scope="module")
def quadratic():
  return proxy_tasks.Evaluator(proxy_tasks.get("quadratic", steps=10), slots=8,
                               normalize=False)


@pytest.mark.slow  # 8 s on an idle 2-core machine, over 20 s when it is shared
def test_10000_random_programs_on_a_toy_task(quadratic):
  rng = np.random.default_rng(8)
  programs = (mutation_chains(rng, VALID_CHAINS) + random_valid(rng, VALID_RANDOM)
              + raw_programs(rng, RAW))
  assert len(programs) == 10_000
  valid = [True] * (VALID_CHAINS + VALID_RANDOM) + [dsl.is_valid(p) for p in programs[-RAW:]]
  results = quadratic.evaluate(programs)
  _check(programs, results, valid)
  statuses = collections.Counter(r.status for r in results)
  # The fuzz reaches every kind of end it can on this task (no early stopping, no time-out).
  assert {"ok", "nan", "diverged", "error"} <= set(statuses), statuses
  assert statuses["error"] == valid.count(False)  # exactly the invalid programs
  assert 50 < valid.count(False) < RAW


def test_program_texts_that_do_not_parse_fail_alone_in_their_batch(quadratic):
  """Workers receive text: garbage among good programs is one failed result each."""
  rng = np.random.default_rng(3)
  good = [p.to_text() for p in mutation_chains(rng, 40)]
  bad = ["", "def train(w, g, lr)\n", "import os\n", "def train(w, g, lr):\n  return\n",
         "def train(w, g, lr):\n  u = __import__('os')\n  return u\n", "\x00\xff",
         "def train(w, g, lr):\n  u = g ** 2\n  return u\n"]
  texts = good[:20] + bad + good[20:]
  records = workers.score(quadratic, list(enumerate(texts)))
  alone = workers.score(quadratic, list(enumerate(good)))
  assert len(records) == len(texts)
  failed = records[20:20 + len(bad)]
  assert all(r["status"] == "error" and r["fitness"] == -math.inf and r["reason"]
             for r in failed)
  def timeless(record):
    return {k: v for k, v in record.items() if k != "seconds"}

  assert [timeless(r) for r in records[:20] + records[20 + len(bad):]] == [
      timeless(r) for r in alone]  # the good ones as if the bad were not there


@pytest.mark.slow
def test_a_few_hundred_random_programs_on_the_default_proxy():
  rng = np.random.default_rng(11)
  programs = mutation_chains(rng, 200) + random_valid(rng, 50) + raw_programs(rng, 50)
  valid = [True] * 250 + [dsl.is_valid(p) for p in programs[250:]]
  evaluator = proxy_tasks.Evaluator(proxy_tasks.get(proxy_tasks.DEFAULT_PROXY, steps=20),
                                    normalize=False)
  results = evaluator.evaluate(programs)
  _check(programs, results, valid)
  assert collections.Counter(r.status for r in results)["ok"] > 50
