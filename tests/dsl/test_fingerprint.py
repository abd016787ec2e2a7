"""Functional fingerprint (dsl.fingerprint, dsl.functional_fingerprint): algebraic twins
collide, different optimizers do not, and the NumPy run computes what dsl.compile computes."""

import hashlib
import itertools

import jax
import numpy as np
import pytest

import dsl
from dsl import fingerprint, functions
from dsl.analysis import analyze


def _p(body: str, params: str = "w, g, lr", returns: str = "u") -> dsl.Program:
  lines = "".join(f"  {line.strip()}\n" for line in body.strip().splitlines())
  return dsl.parse(f"def train({params}):\n{lines}  return {returns}\n")


def fp(program):
  return dsl.functional_fingerprint(program)


# Collisions the semantic hash cannot see.

@pytest.mark.parametrize("a,b", [
    ("u = g + g", "u = g * 2.0"),
    ("x = g + w\nu = x + lr", "x = w + lr\nu = g + x"),  # associativity
    ("u = g - w", "x = negative(w)\nu = g + x"),
    ("x = square(g)\nu = sqrt(x)", "u = abs(g)"),
    ("x = g * lr\nu = x * 0.5", "x = lr / 2.0\nu = g * x"),
    ("u = interp(g, w, 0.25)", "x = g * 0.75\ny = w * 0.25\nu = x + y"),
    ("x = g * lr\nu = x / lr", "u = g * 1.0"),
])
def test_algebraic_twins_share_a_fingerprint(a, b):
  program_a, program_b = _p(a), _p(b)
  assert dsl.semantic_hash(program_a) != dsl.semantic_hash(program_b)
  assert fp(program_a) == fp(program_b)


def test_states_kept_differently_but_same_updates_share_a_fingerprint():
  # Momentum stored as m, or as 2 m: the updates are the same, so the optimizer is the same.
  a = _p("m = interp(g, m, 0.9)\nu = m * lr", "w, g, m, lr", "u, m")
  b = _p("g2 = g * 2.0\nm = interp(g2, m, 0.9)\nh = m * 0.5\nu = h * lr", "w, g, m, lr", "u, m")
  assert fp(a) == fp(b)


def test_programs_that_ignore_their_inputs_collide_by_value():
  zero = fp(_p("u = g - g"))
  assert fp(_p("u = w * 0.0")) == zero
  assert fp(_p("x = get_pi()\nu = x - 3.141592653589793")) == zero
  assert fp(_p("u = cos(0.0)")) == fp(_p("x = lr - lr\nu = x + 1.0"))
  assert fp(_p("u = cos(0.0)")) != zero


# Non-collisions.

@pytest.mark.parametrize("a,b", [
    ("u = g * 2.0", "u = g * 3.0"),
    ("u = g * 2.0", "u = g * 2.000002"),  # 1e-6 apart: above the 24-bit rounding
    ("u = g - w", "u = w - g"),
    ("u = clip(g, 1.0)", "u = clip(g, 2.0)"),  # gradients span magnitudes: both clip, once
    ("u = maximum(g, 100.0)", "u = maximum(g, 101.0)"),
    ("u = norm(g)", "u = global_norm(g)"),  # two arrays: per-array is not global
    ("u = sign(g)", "u = tanh(g)"),
    ("x = g * lr\nu = x * 0.001", "u = g * 0.001"),  # lr varies
])
def test_different_functions_have_different_fingerprints(a, b):
  assert fp(_p(a)) != fp(_p(b))


def test_builtin_optimizers_are_told_apart():
  prints = {name: fp(dsl.library.load(name)) for name in dsl.library.names()}
  assert len(set(prints.values())) == len(prints), prints


def test_second_state_reaches_the_fingerprint():
  # The update reads s, which reads m, which reads g: the constant in m's update must show.
  def chain(c):
    return _p(f"m = interp(g, m, {c})\ns = interp(m, s, 0.5)\nu = s * lr", "w, g, m, s, lr",
              "u, m, s")
  assert fp(chain(0.9)) != fp(chain(0.8))


def test_adamw_constant_changes_are_seen():
  adamw = dsl.library.load("adamw")
  changed = dsl.parse(adamw.to_text().replace("0.999", "0.99"))
  assert fp(changed) != fp(adamw)


def test_dead_code_and_pruning_do_not_change_the_fingerprint():
  program8 = dsl.library.load("program8")
  assert fp(dsl.prune(program8)) == fp(program8)


# NaN and infinite outputs.

def test_non_finite_updates_fall_back_to_the_semantic_hash():
  a = _p("u = arccosh(g)")  # NaN for g < 1
  b = _p("x = arccosh(g)\nu = x * 2.0")
  assert fingerprint.run(analyze(a)) is None
  assert fp(a) != fp(b)  # not "every NaN program is the same program"
  expected = hashlib.blake2b(f"symbolic:{dsl.semantic_hash(a)}".encode(),
                             digest_size=16).hexdigest()
  assert fp(a) == expected
  overflow = _p("x = exp(g)\ny = exp(x)\nu = exp(y)")
  assert fingerprint.run(analyze(overflow)) is None


def test_fingerprint_rejects_invalid_programs():
  bad = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "clip", ("g", "g")),), ("u",))
  with pytest.raises(dsl.ProgramError, match="must be a scalar"):
    fp(bad)


# Rounding.

def test_round_significant():
  one = np.array([1.0 + 2.0**-30, 1.0 + 2.0**-20, -(1.0 + 2.0**-30), -0.0, 3.0 - 2.0**-40])
  rounded = fingerprint.round_significant(one, bits=24)
  assert rounded.tolist() == [1.0, 1.0 + 2.0**-20, -1.0, 0.0, 3.0]
  assert np.signbit(rounded[3]) == np.False_
  x = np.random.default_rng(0).normal(size=1000) * 10.0 ** np.random.default_rng(1).uniform(
      -20, 20, 1000)
  relative = np.abs(fingerprint.round_significant(x) - x) / np.abs(x)
  assert relative.max() <= 2.0 ** -fingerprint.SIGNIFICANT_BITS


# The NumPy twins and the NumPy run agree with the reference semantics (dsl.compile).

def test_every_table_row_runs_its_own_code_under_numpy():
  impls = fingerprint.impls()
  assert set(impls) == {f.name for f in functions.FUNCTIONS}
  assert fingerprint.FALLBACKS == []


def test_numpy_twin_is_the_same_code():
  row = functions.BY_NAME["/"]
  twin = fingerprint.numpy_twin(row.impl)
  assert twin.__code__ is row.impl.__code__
  out = twin(np.array([1.0, 2.0]), np.array([0.0, -4.0]))
  assert isinstance(out, np.ndarray) and out.tolist() == [1e8, -0.5]


_ARGUMENTS = {"tree": "g", "per_array": "n", "scalar": "lr", "constant": "0.7"}


def _one_statement_programs():
  """``n = norm(w); x = f(args); u = x + 0.0`` for every row and every type of argument."""
  for function in functions.FUNCTIONS:
    options = [["scalar", "constant"] if i in function.scalar_args else list(_ARGUMENTS)
               for i in range(function.arity)]
    for kinds in itertools.product(*options):
      args = tuple(float(_ARGUMENTS[k]) if k == "constant" else _ARGUMENTS[k] for k in kinds)
      statements = (dsl.Statement("n", "norm", ("w",)), dsl.Statement("x", function.name, args),
                    dsl.Statement("u", "+", ("x", 0.0)))
      program = dsl.check(dsl.Program(("w", "g", "lr"), statements, ("u",)))
      yield statements[1].to_text(), program


def _compiled_updates(program, steps=range(fingerprint.STEPS)):
  """The updates of the compiled program (un-jitted) on the fingerprint's inputs."""
  step = dsl.compile(program)
  segments = [slice(s, s + n) for s, n in zip((0, 3), fingerprint.LEAF_SIZES)]
  updates = []
  w0 = {k: np.zeros(n, np.float32) for k, n in zip("ab", fingerprint.LEAF_SIZES)}
  states = dsl.init_states(program, w0)
  with jax.disable_jit():
    for t in steps:
      w = {k: fingerprint.WEIGHTS[t][s].astype(np.float32) for k, s in zip("ab", segments)}
      g = {k: fingerprint.GRADIENTS[t][s].astype(np.float32) for k, s in zip("ab", segments)}
      update, states = step(w, g, states, float(fingerprint.LRS[t]))
      updates.append(np.concatenate([np.asarray(update["a"]), np.asarray(update["b"])]))
  return np.stack(updates).astype(np.float64)


def test_numpy_run_matches_the_compiled_program_for_every_function_and_type():
  checked = 0
  steps = [0, 2, 3]  # gradients at 1e-3, 1 and 100 (the programs have no state)
  for text, program in _one_statement_programs():
    ours = fingerprint.run(analyze(program))
    theirs = _compiled_updates(program, steps)
    if ours is None:  # NaN or overflow at some step (in float64); nothing to compare
      continue
    ours = ours[steps]
    comparable = np.isfinite(theirs) & (np.abs(theirs) < 1e30)
    scale = np.abs(theirs[comparable]).max(initial=0.0)
    np.testing.assert_allclose(ours[comparable], theirs[comparable], rtol=2e-3,
                               atol=1e-5 * scale + 1e-30, err_msg=text)
    checked += 1
  assert checked > 100


@pytest.mark.parametrize("name", ["adamw", "lion", "program4", "tiger", "sgd_momentum"])
def test_numpy_run_matches_the_compiled_builtin(name):
  program = dsl.library.load(name)
  ours = fingerprint.run(analyze(program))
  np.testing.assert_allclose(ours, _compiled_updates(program), rtol=1e-3,
                             atol=1e-9)
