"""Fuzzing abstract execution with 10,000 programs, valid and invalid.

Nothing may escape the analysis but ``ProgramError``; it must accept and reject exactly what the
statement-by-statement type rules (``dsl.program.statement_type``) do; and every program it
accepts must run in ``dsl.compile`` (a sample, un-jitted: jit would take minutes).
"""

import jax
import numpy as np
import pytest

import dsl
from dsl import analysis, fingerprint, functions, hashing
from dsl.program import Program, ProgramError, Statement, check_signature, param_types
from dsl.program import statement_type
from search.mutation import mutate, random_program

_SPELLINGS = sorted(functions.BY_NAME) + ["bogus", "print"]
_NAMES = ["w", "g", "m", "v", "s", "lr", "x", "y", "update", "zz"]


def _raw_program(rng: np.random.Generator) -> Program:
  """A program built without any validity check: mostly plausible, often broken."""
  num_params = int(rng.integers(2, 9))
  params = tuple(rng.choice(_NAMES, num_params, replace=bool(rng.random() < 0.1)))
  defined = list(params)
  statements = []
  for _ in range(int(rng.integers(0, 20))):
    function = str(rng.choice(_SPELLINGS))
    arity = functions.BY_NAME[function].arity if function in functions.BY_NAME else 1
    arity = max(0, arity + int(rng.choice([0, 0, 0, 0, 0, 0, 1, -1])))
    pool = defined if rng.random() < 0.9 else _NAMES
    args = tuple(float(rng.normal()) if rng.random() < 0.25 else str(rng.choice(pool))
                 for _ in range(arity))
    target = str(rng.choice(_NAMES))
    statements.append(Statement(target, function, args))
    defined.append(target)
  num_returns = max(1, num_params - 2 + int(rng.choice([0, 0, 0, 0, 1, -1])))
  returns = tuple(str(rng.choice(defined if rng.random() < 0.9 else _NAMES))
                  for _ in range(num_returns))
  return Program(params, tuple(statements), returns)


def _programs(count: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  parent = dsl.library.load("adamw")
  builtins = [dsl.library.load(name) for name in dsl.library.names()]
  for i in range(count):
    kind = i % 3
    if kind == 0:
      yield _raw_program(rng)
    elif kind == 1:
      yield random_program(rng, int(rng.integers(0, 5)), int(rng.integers(1, 16)))
    else:
      if rng.random() < 0.05:
        parent = builtins[int(rng.integers(len(builtins)))]
      parent, _ = mutate(parent, rng)
      yield parent


def _reference_types(program: Program):
  """The type rules applied one statement at a time (``infer_types`` before its one-pass
  rewrite): the types, or the ProgramError message."""
  try:
    check_signature(program)
    env = param_types(program)
    types = []
    for index, statement in enumerate(program.statements):
      types.append(statement_type(statement, env, program, index))
      env[statement.target] = types[-1]
    for name in program.returns:
      if name not in env:
        raise ProgramError(f"return of undefined variable '{name}'")
  except ProgramError as e:
    return str(e.message)
  return tuple(types)


def _run_once(program: Program) -> None:
  step = dsl.compile(program)
  w = {"a": np.linspace(-1.0, 1.0, 3, dtype=np.float32), "b": np.ones((2, 2), np.float32)}
  g = jax.tree.map(lambda x: x * 0.5 + 0.1, w)
  with jax.disable_jit():
    update, states = step(w, g, dsl.init_states(program, w), 0.5)
  assert jax.tree.structure(update) == jax.tree.structure(w)
  assert all(jax.tree.structure(s) == jax.tree.structure(w) for s in states)
  assert len(states) == program.num_states


@pytest.mark.slow  # 5 to 20 s, with the machine shared
def test_fuzz_abstract_execution_10000_programs():
  accepted, rejected, compiled, fingerprinted = [], 0, 0, 0
  for program in _programs(10_000):
    expected = _reference_types(program)
    try:
      result = analysis.analyze(program)
    except ProgramError as e:
      rejected += 1
      assert isinstance(expected, str), f"rejected a valid program ({e}):\n{program}"
      assert e.message == expected
      continue
    assert result.types == expected, program
    accepted.append(program)
    # The rest of the analysis on every accepted program.
    pruned = analysis.prune(program)
    assert dsl.is_valid(pruned)
    assert hashing.hash_analysis(analysis.analyze(pruned)) == hashing.hash_analysis(result)
    assert 0 <= len(result.live_states) <= program.num_states
  rng = np.random.default_rng(1)
  for index in rng.choice(len(accepted), 150, replace=False):
    _run_once(accepted[index])
    compiled += 1
  for index in rng.choice(len(accepted), 1000, replace=False):
    key = dsl.functional_fingerprint(accepted[index])
    assert len(key) == 32
    fingerprinted += 1
  # The fuzz covers both sides.
  assert rejected > 1500 and len(accepted) > 6000, (rejected, len(accepted))
  assert compiled == 150 and fingerprinted == 1000
  assert fingerprint.FALLBACKS == []


@pytest.mark.parametrize("program,message", [
    (Program(("w", "g", "lr"), (Statement("u", "nope", ("g",)),), ("u",)),
     "unknown function 'nope'"),
    (Program(("w", "g", "lr"), (Statement("u", "sin", ("g", "g")),), ("u",)),
     "'sin' takes 1 argument, got 2"),
    (Program(("w", "g", "lr"), (Statement("u", "sin", ("q",)),), ("u",)),
     "undefined variable 'q'"),
    (Program(("w", "g", "lr"), (Statement("u", "interp", ("g", "w", "g")),), ("u",)),
     "argument 3 of 'interp' must be a scalar, 'g' is tree"),
    (Program(("w", "g", "lr"), (Statement("u", "sin", ("g",)),), ("q",)),
     "return of undefined variable 'q'"),
    (Program(("w", "g", "lr"), (), ("g", "g")), "return must give the update and the 0 states"),
])
def test_errors_name_the_statement(program, message):
  with pytest.raises(ProgramError, match=message) as error:
    analysis.analyze(program)
  if program.statements and "return" not in message:
    assert error.value.statement == 0 and error.value.line == program.line_of(0)
