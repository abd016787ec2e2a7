"""Semantic hash (dsl.hashing): invariant under what does not change the live computation,
sensitive to everything that does."""

import dataclasses
import hashlib
import pathlib
import re
import subprocess
import sys

import hypothesis
import hypothesis.strategies as st
import numpy as np

import dsl
from dsl import analysis, functions, hashing
from dsl.program import Program, Statement
from search.mutation import mutate, random_program, random_statement

ADAMW = dsl.library.load("adamw")
REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def _program(seed: int) -> Program:
  """A random or mutated program with at least one live statement."""
  rng = np.random.default_rng(seed)
  while True:
    if rng.random() < 0.5:
      program = random_program(rng, int(rng.integers(0, 5)), int(rng.integers(4, 25)))
    else:
      program = dsl.library.load(str(rng.choice(["adamw", "lion", "program8", "tiger"])))
      for _ in range(int(rng.integers(0, 6))):
        program, _ = mutate(program, rng)
    if any(analysis.analyze(program).live):
      return program


seeds = st.integers(0, 2**32 - 1)
settings = hypothesis.settings(max_examples=120, deadline=None)


# Transformations that keep the hash.

def rename(program: Program, rng: np.random.Generator) -> Program:
  """Renames every variable (parameters included) by a random bijection."""
  names = list(dict.fromkeys(program.params + tuple(s.target for s in program.statements)))
  fresh = [f"x{i}" for i in rng.permutation(len(names))]
  mapping = dict(zip(names, fresh))
  statements = tuple(Statement(mapping[s.target], s.function,
                               tuple(mapping.get(a, a) if isinstance(a, str) else a
                                     for a in s.args)) for s in program.statements)
  return Program(tuple(mapping[p] for p in program.params), statements,
                 tuple(mapping[r] for r in program.returns))


def _independent(a: Statement, b: Statement) -> bool:
  return a.target != b.target and a.target not in b.reads and b.target not in a.reads


def reorder(program: Program, rng: np.random.Generator, swaps: int = 30) -> Program:
  """Swaps random adjacent independent statements (a topological reordering)."""
  statements = list(program.statements)
  for _ in range(swaps):
    if len(statements) < 2:
      break
    i = int(rng.integers(len(statements) - 1))
    if _independent(statements[i], statements[i + 1]):
      statements[i], statements[i + 1] = statements[i + 1], statements[i]
  return program.replace(statements=tuple(statements))


def insert_dead(program: Program, rng: np.random.Generator, count: int = 3) -> Program:
  """Inserts statements that assign fresh variables nobody reads."""
  for k in range(count):
    position = int(rng.integers(len(program.statements) + 1))
    statement = random_statement(program, position, rng)
    statement = dataclasses.replace(statement, target=f"dead{k}")
    program = program.replace(statements=program.statements[:position] + (statement,)
                              + program.statements[position:])
  return program


def swap_commutative(program: Program) -> Program:
  return program.replace(statements=tuple(
      dataclasses.replace(s, args=s.args[::-1]) if functions.BY_NAME[s.function].commutative
      else s for s in program.statements))


@settings
@hypothesis.given(seeds)
def test_renaming_keeps_the_hash(seed):
  program = _program(seed)
  renamed = rename(program, np.random.default_rng(seed))
  assert renamed != program or not program.statements
  assert dsl.semantic_hash(renamed) == dsl.semantic_hash(program)


@settings
@hypothesis.given(seeds)
def test_reordering_independent_statements_keeps_the_hash(seed):
  program = _program(seed)
  assert dsl.semantic_hash(reorder(program, np.random.default_rng(seed))) == (
      dsl.semantic_hash(program))


@settings
@hypothesis.given(seeds)
def test_inserting_dead_statements_keeps_the_hash(seed):
  program = _program(seed)
  bigger = insert_dead(program, np.random.default_rng(seed))
  assert len(dsl.redundant_statements(bigger)) >= 3
  assert dsl.semantic_hash(bigger) == dsl.semantic_hash(program)


@settings
@hypothesis.given(seeds)
def test_swapping_commutative_operands_keeps_the_hash(seed):
  program = _program(seed)
  assert dsl.semantic_hash(swap_commutative(program)) == dsl.semantic_hash(program)


@settings
@hypothesis.given(seeds)
def test_all_transformations_together_keep_the_hash(seed):
  rng = np.random.default_rng(seed)
  program = _program(seed)
  twin = rename(swap_commutative(reorder(insert_dead(program, rng), rng)), rng)
  assert dsl.semantic_hash(twin) == dsl.semantic_hash(program)
  assert dsl.structure_hash(twin) == dsl.structure_hash(program)


# Changes that must change the hash.

def _live(program):
  return [i for i, live in enumerate(analysis.analyze(program).live) if live]


def _replace_statement(program, index, **changes):
  statements = list(program.statements)
  statements[index] = dataclasses.replace(statements[index], **changes)
  return program.replace(statements=tuple(statements))


@settings
@hypothesis.given(seeds)
def test_changing_a_live_constant_changes_the_hash(seed):
  program = _program(seed)
  candidates = [(i, k) for i in _live(program)
                for k, a in enumerate(program.statements[i].args) if isinstance(a, float)]
  if not candidates:  # give it one: a live statement times a constant
    program = _with_live_constant(program)
    candidates = [(len(program.statements) - 2, 1)]
  rng = np.random.default_rng(seed)
  i, k = candidates[int(rng.integers(len(candidates)))]
  args = list(program.statements[i].args)
  args[k] = args[k] * 1.0000001 + 1e-12 if rng.random() < 0.5 else -args[k] - 1.0
  changed = _replace_statement(program, i, args=tuple(args))
  assert dsl.is_valid(changed)
  assert dsl.semantic_hash(changed) != dsl.semantic_hash(program)
  assert dsl.structure_hash(changed) == dsl.structure_hash(program)  # constants left out


def _with_live_constant(program):
  update = program.returns[0]
  statements = program.statements + (Statement("scaled", "*", (update, 0.5)),
                                     Statement("scaled", "+", ("scaled", update)))
  return program.replace(statements=statements, returns=("scaled",) + program.returns[1:])


_UNARY = [f.name for f in functions.FUNCTIONS
          if f.kind == functions.ELEMENTWISE and f.arity == 1]
_BINARY = [f.name for f in functions.FUNCTIONS
           if f.kind == functions.ELEMENTWISE and f.arity == 2]


@settings
@hypothesis.given(seeds)
def test_changing_a_live_function_changes_the_hash(seed):
  program = _program(seed)
  rng = np.random.default_rng(seed)
  candidates = [i for i in _live(program) if program.statements[i].function in _UNARY + _BINARY]
  if not candidates:
    program = _with_live_constant(program)
    candidates = _live(program)[-2:]
  i = candidates[int(rng.integers(len(candidates)))]
  family = _UNARY if program.statements[i].function in _UNARY else _BINARY
  others = [f for f in family if f != program.statements[i].function]
  changed = _replace_statement(program, i, function=others[int(rng.integers(len(others)))])
  assert dsl.is_valid(changed)
  assert dsl.semantic_hash(changed) != dsl.semantic_hash(program)
  assert dsl.structure_hash(changed) != dsl.structure_hash(program)


@settings
@hypothesis.given(seeds)
def test_swapping_noncommutative_arguments_changes_the_hash(seed):
  program = _program(seed)
  result = analysis.analyze(program)
  tokens = hashing.node_hashes(result)

  def token(ref):
    return tokens[ref] if isinstance(ref, int) else hashing.constant_token(ref)

  candidates = [i for i in _live(program)
                if program.statements[i].function in ("-", "/", "power", "interp")
                and token(result.sources[i][0]) != token(result.sources[i][1])]
  if not candidates:  # give it one: update - 0.5 (a constant never hashes like a variable)
    program = program.replace(
        statements=program.statements + (Statement("diff", "-", (program.returns[0], 0.5)),),
        returns=("diff",) + program.returns[1:])
    candidates = [len(program.statements) - 1]
  i = candidates[int(np.random.default_rng(seed).integers(len(candidates)))]
  args = program.statements[i].args
  changed = _replace_statement(program, i, args=(args[1], args[0]) + args[2:])
  assert dsl.is_valid(changed)
  assert dsl.semantic_hash(changed) != dsl.semantic_hash(program)


# Examples.

def test_aliases_constant_spelling_and_names_do_not_matter():
  a = dsl.parse("def train(w, g, m, lr):\n  m = interp(g, m, 0.5)\n  u = m * lr\n"
                "  return u, m\n")
  b = dsl.parse("def train(weights, grad, mom, step):\n  mom = interpolate(grad, mom, 5e-1)\n"
                "  out = multiply(step, mom)\n  return out, mom\n")
  c = dsl.parse("def train(w, g, m, lr):\n  m = interp(g, m, .50)\n  u = lr * m\n"
                "  return u, m\n")
  assert dsl.semantic_hash(a) == dsl.semantic_hash(b) == dsl.semantic_hash(c)


def test_hash_is_32_hex_digits_and_not_pythons_hash():
  h = dsl.semantic_hash(ADAMW)
  assert re.fullmatch(r"[0-9a-f]{32}", h)
  # Same in a fresh interpreter (Python's hash() of strings is salted per process).
  code = "import dsl; print(dsl.semantic_hash(dsl.library.load('adamw')))"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, cwd=REPOSITORY,
                       env={"PYTHONHASHSEED": "12345", "JAX_PLATFORMS": "cpu",
                            "PYTHONPATH": str(REPOSITORY)})
  assert out.stdout.strip() == h


def test_hash_matches_a_hand_computed_dag_hash():
  program = dsl.parse("def train(w, g, lr):\n  u = g * lr\n  return u\n")

  def digest(text):
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

  node = digest("*(@g,@lr)")
  assert dsl.semantic_hash(program) == digest(f"{hashing.HASH_VERSION}:{node}")


def test_different_programs_hash_differently():
  hashes = {name: dsl.semantic_hash(dsl.library.load(name)) for name in dsl.library.names()}
  assert len(set(hashes.values())) == len(hashes)


def test_dead_state_does_not_count():
  # Program 4 with its dead state m dropped from the signature hashes like Program 4.
  program4 = dsl.library.load("program4")
  text = dsl.prune(program4).to_text()
  one_state = text.replace("def train(w, g, m, v, lr):", "def train(w, g, v, lr):").replace(
      "return update, m, v", "return update, v")
  assert dsl.semantic_hash(dsl.parse(one_state)) == dsl.semantic_hash(program4)


def test_state_roles_matter():
  a = dsl.parse("def train(w, g, m, v, lr):\n  m = m + g\n  v = v * g\n  u = m / v\n"
                "  return u, m, v\n")
  b = dsl.parse("def train(w, g, m, v, lr):\n  m = m + g\n  v = v * g\n  u = v / m\n"
                "  return u, m, v\n")
  c = dsl.parse("def train(w, g, m, v, lr):\n  m = m * g\n  v = v + g\n  u = v / m\n"
                "  return u, m, v\n")
  assert dsl.semantic_hash(a) != dsl.semantic_hash(b)
  # c is a with the states swapped (names are roles only by position) ...
  assert dsl.semantic_hash(a) != dsl.semantic_hash(c)
  # ... and is a exactly when the parameters are swapped too.
  c_swapped = dsl.parse("def train(w, g, v, m, lr):\n  m = m * g\n  v = v + g\n  u = v / m\n"
                        "  return u, v, m\n")
  assert dsl.semantic_hash(a) == dsl.semantic_hash(c_swapped)


def test_weights_gradient_and_lr_are_roles():
  a = dsl.parse("def train(w, g, lr):\n  u = w - g\n  return u\n")
  b = dsl.parse("def train(w, g, lr):\n  u = g - w\n  return u\n")
  c = dsl.parse("def train(g, w, lr):\n  u = g - w\n  return u\n")
  assert dsl.semantic_hash(a) != dsl.semantic_hash(b)
  assert dsl.semantic_hash(a) == dsl.semantic_hash(c)


def test_structure_hash_is_its_own_domain():
  program = dsl.library.load("lion")
  constant_free = dsl.parse("def train(w, g, lr):\n  u = sign(g)\n  u = u * lr\n  return u\n")
  # A program without constants has the same DAG either way; the domains still differ.
  assert dsl.structure_hash(constant_free) != dsl.semantic_hash(constant_free)
  assert dsl.structure_hash(program) != dsl.structure_hash(dsl.library.load("adamw"))
