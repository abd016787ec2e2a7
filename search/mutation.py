"""Mutations of optimizer programs (the paper's three): insert, delete, modify an argument.

Every function here is pure given its ``numpy.random.Generator``: the same generator state
gives the same child. Only valid children are returned (abstract execution over types,
``dsl.infer_types``); an invalid draw is redrawn.

* ``insert``: a statement calling a random function from the table, with random type-valid
  arguments (an existing variable or a new constant drawn from N(0, 1)), assigned to an
  existing variable or a new one, at a random place.
* ``delete``: a random statement.
* ``modify``: one argument of a random statement becomes another variable of a valid type, a
  new N(0, 1) constant, or (if it is a constant) that constant times 2^a, a ~ N(0, 1).

``mutate_constant`` is the one mutation of the constant-only control (``evolution.strategy:
constants``): a nonzero constant drawn uniformly among the program's becomes c * 2^a,
a ~ N(0, 1), the multiplicative branch of ``modify``. The structure (``dsl.structure_hash``:
functions, links, which arguments are constants) never changes, only the values.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import Mapping

import numpy as np

import dsl
from dsl import functions as fns
from dsl.program import Program, ProgramError, Statement, Type, infer_types, param_types

MUTATIONS = ("insert", "delete", "modify")
DEFAULT_WEIGHTS = {"insert": 1.0, "delete": 1.0, "modify": 1.0}
_CALLABLE = tuple(f for f in fns.FUNCTIONS)


@dataclasses.dataclass(frozen=True)
class Mutation:
  """What was done to the parent: ``kind`` and the statement index it touched."""
  kind: str
  index: int

  def __str__(self) -> str:
    return f"{self.kind}@{self.index}"


def _environment(program: Program, types: tuple[Type, ...], position: int) -> dict[str, Type]:
  """The variables (and their types) visible before statement ``position``."""
  env = param_types(program)
  for statement, type_ in zip(program.statements[:position], types[:position]):
    env[statement.target] = type_
  return env


def _random_arg(rng: np.random.Generator, env: dict[str, Type], scalar_only: bool,
                constant_probability: float = 0.2):
  names = [n for n, t in env.items() if t == Type.SCALAR] if scalar_only else list(env)
  if not names or rng.random() < constant_probability:
    return float(rng.normal())
  return names[rng.integers(len(names))]


def _new_name(program: Program) -> str:
  taken = set(program.params) | {s.target for s in program.statements}
  index = len(taken)
  while f"v{index}" in taken:
    index += 1
  return f"v{index}"


def random_statement(program: Program, position: int, rng: np.random.Generator,
                     types: tuple[Type, ...] | None = None) -> Statement:
  """A random statement that may be inserted before statement ``position``."""
  types = infer_types(program) if types is None else types
  env = _environment(program, types, position)
  function = _CALLABLE[rng.integers(len(_CALLABLE))]
  args = tuple(_random_arg(rng, env, i in function.scalar_args) for i in range(function.arity))
  if rng.random() < 0.5:
    target = _new_name(program)
  else:
    existing = list(env)
    target = existing[rng.integers(len(existing))]
  return Statement(target, function.name, args)


def _insert(program, types, rng, max_length):
  if len(program.statements) >= max_length:
    return None
  position = int(rng.integers(len(program.statements) + 1))
  statement = random_statement(program, position, rng, types)
  statements = program.statements[:position] + (statement,) + program.statements[position:]
  return program.replace(statements=statements), Mutation("insert", position)


def _delete(program, types, rng, max_length):
  del types, max_length
  if not program.statements:
    return None
  position = int(rng.integers(len(program.statements)))
  statements = program.statements[:position] + program.statements[position + 1:]
  return program.replace(statements=statements), Mutation("delete", position)


def _modify(program, types, rng, max_length):
  del max_length
  candidates = [i for i, s in enumerate(program.statements) if s.args]
  if not candidates:
    return None
  position = candidates[rng.integers(len(candidates))]
  statement = program.statements[position]
  slot = int(rng.integers(len(statement.args)))
  old = statement.args[slot]
  function = fns.BY_NAME[statement.function]
  if isinstance(old, float) and rng.random() < 0.5:
    new = old * float(2.0 ** rng.normal())
  else:
    env = _environment(program, types, position)
    new = _random_arg(rng, env, slot in function.scalar_args)
  args = statement.args[:slot] + (new,) + statement.args[slot + 1:]
  statements = list(program.statements)
  statements[position] = dataclasses.replace(statement, args=args)
  return program.replace(statements=tuple(statements)), Mutation("modify", position)


_APPLY = {"insert": _insert, "delete": _delete, "modify": _modify}


def constant_slots(program: Program) -> list[tuple[int, int]]:
  """``(statement index, argument index)`` of every nonzero constant of ``program``: what
  ``mutate_constant`` may change (a zero stays zero under scaling)."""
  return [(i, j) for i, statement in enumerate(program.statements)
          for j, arg in enumerate(statement.args) if isinstance(arg, float) and arg != 0.0]


def mutate_constant(program: Program, rng: np.random.Generator) -> tuple[Program, Mutation]:
  """The child with one constant scaled: ``c -> c * 2^a``, a ~ N(0, 1), the constant drawn
  uniformly among ``constant_slots`` (a learning rate, a weight decay and an interpolation
  weight are equally likely to move). Scaling in log space gives a constant of any magnitude
  the same relative steps (1e-3 and 0.9 alike); the sign never flips and nothing but the one
  value changes, so the child is valid whenever its parent is and shares its
  ``dsl.structure_hash``. Raises ``ValueError`` for a program without a nonzero constant.
  """
  slots = constant_slots(program)
  if not slots:
    raise ValueError(f"no nonzero constant to modify in this program:\n{program}")
  position, slot = slots[int(rng.integers(len(slots)))]
  statement = program.statements[position]
  new = statement.args[slot] * float(2.0 ** rng.normal())
  args = statement.args[:slot] + (new,) + statement.args[slot + 1:]
  statements = list(program.statements)
  statements[position] = dataclasses.replace(statement, args=args)
  return program.replace(statements=tuple(statements)), Mutation("constant", position)


def cumulative_weights(weights) -> list[float]:
  """Cumulative sums of ``weights``, normalised to end at 1 (for ``draw_index``)."""
  cumulative = np.cumsum(weights, dtype=float)
  return (cumulative / cumulative[-1]).tolist()


def draw_index(rng: np.random.Generator, cumulative: list[float]) -> int:
  """An index drawn with the probabilities behind ``cumulative``: the index
  ``rng.choice(len(weights), p=weights / sum)`` gives, from the same stream (one uniform,
  searched in the cumulative weights), at a fifth of its cost."""
  return bisect.bisect_right(cumulative, rng.random())


def mutate(program: Program, rng: np.random.Generator,
           weights: Mapping[str, float] = DEFAULT_WEIGHTS, max_length: int = 30,
           max_tries: int = 1000) -> tuple[Program, Mutation]:
  """One valid child of ``program`` and the mutation that made it.

  Draws a mutation kind by ``weights``, applies it, and redraws until the child passes
  abstract execution. Raises ``RuntimeError`` if no valid child is found in ``max_tries``.
  """
  kinds = [k for k in MUTATIONS if weights.get(k, 0.0) > 0]
  unknown = set(weights) - set(MUTATIONS)
  if unknown or not kinds:
    raise ValueError(f"mutation weights must be positive for some of {MUTATIONS}, got "
                     f"{dict(weights)}")
  cumulative = cumulative_weights([weights[k] for k in kinds])
  types = infer_types(program)
  for _ in range(max_tries):
    kind = kinds[draw_index(rng, cumulative)]
    drawn = _APPLY[kind](program, types, rng, max_length)
    if drawn is None:
      continue
    child, mutation = drawn
    try:
      infer_types(child)
    except ProgramError:
      continue
    return child, mutation
  raise RuntimeError(f"no valid child of this program in {max_tries} draws:\n{program}")


def random_program(rng: np.random.Generator, num_states: int = 2, length: int = 10) -> Program:
  """A random valid program of ``length`` statements and ``num_states`` states (for fuzzing)."""
  states = tuple(["m", "v", "s2", "s3"][:num_states])
  program = Program(("w", "g", *states, "lr"), (), ("g", *states))
  while len(program.statements) < length:
    types = infer_types(program)
    statement = random_statement(program, len(program.statements), rng, types)
    candidate = program.replace(statements=program.statements + (statement,))
    if dsl.is_valid(candidate):
      program = candidate
  defined = list(program.params[:-1]) + [s.target for s in program.statements]
  returns = tuple(defined[rng.integers(len(defined))] for _ in range(1 + num_states))
  return program.replace(returns=returns)
