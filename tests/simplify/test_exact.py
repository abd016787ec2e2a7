"""The exact stages end to end: Program 8 becomes Lion; AdamW and Lion stay as they are."""

import numpy as np
import pytest

import dsl
from search.mutation import random_program
from simplify import exact
from simplify.expression import Graph

LION_TEMPLATE = """def train(w, g, m, lr):
  g = clip(g, lr)
  g = arcsin(g)
  update = interp(g, m, {b1!r})
  update = sign(update)
  m = interp(g, m, {b2!r})
  wd = w * {wd!r}
  update = update + wd
  lr = lr * {lr!r}
  update = update * lr
  return update, m
"""


def _constants(program):
  interps = {s.target: s.args[2] for s in program.statements if s.function == "interp"}
  products = [s for s in program.statements if s.function == "*"]
  wd = next(a for s in products if "w" in s.args for a in s.args if isinstance(a, float))
  lr = next(a for s in products if "lr" in s.args for a in s.args if isinstance(a, float))
  return interps, wd, lr


def test_program8_becomes_lion_exactly():
  raw = dsl.library.load("program8")
  result = exact.simplified(raw)
  assert result.num_states == 1 and result.params == ("w", "g", "m", "lr")
  interps, wd, lr = _constants(result)
  b1, b2 = interps["update"], interps["m"]
  assert b1 == 0.8999999761581421
  assert b2 == pytest.approx(0.8999999761581421 * 1.109133005142212, rel=1e-15)
  assert b2 == pytest.approx(0.99822, abs=1e-5)
  assert (wd, lr) == (0.4601978361606598, 0.0002171761734643951)  # as written, no drift
  lion = dsl.parse(LION_TEMPLATE.format(b1=b1, b2=b2, wd=wd, lr=lr))
  assert dsl.semantic_hash(result) == dsl.semantic_hash(lion)
  assert dsl.functional_fingerprint(result) == dsl.functional_fingerprint(raw)


def test_program4_becomes_lion_too():
  result = exact.simplified(dsl.library.load("program4"))
  interps, wd, lr = _constants(result)
  lion = dsl.parse(LION_TEMPLATE.format(b1=interps["update"], b2=interps["m"], wd=wd, lr=lr))
  assert dsl.semantic_hash(result) == dsl.semantic_hash(lion)
  assert interps["m"] == pytest.approx(0.899 * 1.109)


@pytest.mark.parametrize("name", ["adamw", "lion", "sgd", "sgd_momentum", "signum", "tiger",
                                  "addsign", "powersign"])
def test_well_written_programs_come_out_unchanged(name):
  program = dsl.library.load(name)
  assert exact.exact_steps(program) == []
  assert exact.simplified(program) == program


@pytest.mark.parametrize("name", ["program8", "program4"])
def test_every_exact_step_keeps_the_fingerprint(name):
  program = dsl.library.load(name)
  fingerprint = dsl.functional_fingerprint(program)
  steps = exact.exact_steps(program)
  assert len(steps) >= 3
  for step in steps:
    assert dsl.functional_fingerprint(step.program) == fingerprint, step


def test_program8_report_steps():
  steps = exact.exact_steps(dsl.library.load("program8"))
  assert steps[0].stage == "prune"
  assert "9 redundant statements" in steps[0].what and "dead state m" in steps[0].what
  assert "m = cosh(update)" in steps[0].what
  assert [s.stage for s in steps[1:]] == ["merge_interpolations", "factor_common_scale",
                                          "sqrt_of_square", "sign_of_ratio"]


def test_simplification_is_idempotent():
  once = exact.simplified(dsl.library.load("program8"))
  assert exact.simplified(once) == once


def test_invalid_program_raises():
  bad = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "sign", ("nope",)),), ("u",))
  with pytest.raises(dsl.ProgramError):
    exact.exact_steps(bad)


def test_random_programs_keep_their_fingerprint():
  """Property over the search's own random programs: valid, never longer, same function."""
  from dsl import fingerprint
  from dsl.analysis import analyze
  checked = 0
  for seed in range(150):
    rng = np.random.default_rng(seed)
    program = random_program(rng, num_states=int(rng.integers(0, 3)),
                             length=int(rng.integers(3, 12)))
    result = exact.simplified(program)
    assert dsl.is_valid(result)
    assert len(result.statements) <= len(dsl.prune(program).statements)
    if fingerprint.run(analyze(program)) is None:
      continue  # non-finite updates: the fingerprint is the symbolic hash
    checked += 1
    assert dsl.functional_fingerprint(result) == dsl.functional_fingerprint(program), (
        f"seed {seed}\n{program}\n{result}")
  assert checked > 50


def test_graph_round_trip_keeps_written_programs():
  for name in dsl.library.names():
    program = dsl.prune(dsl.library.load(name))
    assert dsl.semantic_hash(Graph.of(program).to_program()) == dsl.semantic_hash(program)
