"""A program's hyperparameters as data: where each one is, and the program rewritten to a value.

Tuning never needs to know a program's structure beyond these rules (programs are data):

* **learning rate** (``lr``): the constant ``c`` of the statement ``lr = lr * c`` (``c``
  multiplies the schedule value), as in the paper's AdamW (Program 3). A program without one
  (the paper's Program 1 as printed: ``update = update * lr``) gets a last statement
  ``update = update * c``: the update it returns is scaled by ``c``, which is its learning
  rate whatever constants it holds elsewhere.
* **weight decay** (``wd``): the constant of the first ``x = w * c`` (``w`` the weights).
* **momentum constants** (``beta1``, ``beta2``): the first and second distinct constants, in
  program order, of the statements that decay an average: ``x = interp(a, b, c)``
  (``(1 - c) a + c b``: AdamW's ``m`` and ``v``, Lion's two interpolations) or ``s = s * c``
  with ``s`` a state (heavy-ball momentum). Every such statement with the same constant is
  the same hyperparameter and is rewritten with it: a bias correction repeats its beta
  (``adamw_bc``: ``c1 = interp(1.0, c1, 0.9)`` is ``1 - 0.9^t``).
* **schedule**: ``warmup_cosine`` is the task's schedule, which every program reads through
  its ``lr`` parameter; ``constant`` prepends ``lr = lr * 0.0; lr = lr + 1.0``, so the program
  sees a constant schedule value 1 (a program that never reads ``lr`` has a constant step
  anyway; this gives every other program the same option).
"""

from __future__ import annotations

import dataclasses

from dsl.program import Program, Statement

SCHEDULES = ("warmup_cosine", "constant")
NAMES = ("lr", "wd", "beta1", "beta2", "schedule")


def _constant_position(statement: Statement, variable: str) -> int | None:
  """Where the constant of ``target = variable * c`` (or ``c * variable``) is, if it is one."""
  if statement.function != "*" or variable not in statement.args:
    return None
  for position, arg in enumerate(statement.args):
    if isinstance(arg, float):
      return position
  return None


def _momentum_position(program: Program, statement: Statement) -> int | None:
  """Where the decay constant of an average is: ``interp(a, b, c)`` or ``s = s * c``."""
  if statement.function == "interp" and isinstance(statement.args[2], float):
    return 2
  if statement.target in program.states and statement.target in statement.args:
    return _constant_position(statement, statement.target)
  return None


def _constant_prologue(program: Program) -> tuple[Statement, Statement]:
  return (Statement(program.lr, "*", (program.lr, 0.0)),
          Statement(program.lr, "+", (program.lr, 1.0)))


def schedule_of(program: Program) -> str:
  """``constant`` if the program starts with the constant-schedule prologue, else
  ``warmup_cosine`` (it reads the task's schedule, or ignores ``lr``)."""
  prologue = _constant_prologue(program)
  return "constant" if program.statements[:2] == prologue else "warmup_cosine"


def locations(program: Program) -> dict[str, tuple[tuple[int, int], ...]]:
  """``{name: ((statement index, argument position), ...)}`` of the constants ``program``
  has, for ``lr``, ``wd``, ``beta1`` and ``beta2`` (see the module docstring)."""
  found: dict[str, tuple[tuple[int, int], ...]] = {}
  decays: list[tuple[float, tuple[int, int]]] = []
  skip = 2 if schedule_of(program) == "constant" else 0
  for index, statement in enumerate(program.statements):
    if index < skip:
      continue
    for name, variable in (("lr", program.lr), ("wd", program.weights)):
      position = _constant_position(statement, variable)
      if position is not None and name not in found:
        found[name] = ((index, position),)
    position = _momentum_position(program, statement)
    if position is not None:
      decays.append((statement.args[position], (index, position)))
  distinct = list(dict.fromkeys(value for value, _ in decays))
  for name, value in zip(("beta1", "beta2"), distinct):
    found[name] = tuple(where for v, where in decays if v == value)
  return found


def values(program: Program) -> dict[str, float | str]:
  """The program's own value of each hyperparameter it has (``lr`` is 1 when it has no
  learning-rate constant: its update is then used as it is)."""
  found = {name: float(program.statements[where[0][0]].args[where[0][1]])
           for name, where in locations(program).items()}
  found.setdefault("lr", 1.0)
  return {**found, "schedule": schedule_of(program)}


def with_hyperparameters(program: Program, lr: float | None = None, wd: float | None = None,
                         beta1: float | None = None, beta2: float | None = None,
                         schedule: str | None = None) -> Program:
  """``program`` with the given hyperparameters set (``None``: left as it is).

  Raises ``ValueError`` for a weight decay or momentum constant the program does not have, or
  an unknown schedule; a learning rate always applies (see the module docstring).
  """
  where = locations(program)
  statements = list(program.statements)
  for name, value in (("lr", lr), ("wd", wd), ("beta1", beta1), ("beta2", beta2)):
    if value is None:
      continue
    if name not in where:
      if name == "lr":
        update = program.returns[0]
        statements.append(Statement(update, "*", (update, float(value))))
        continue
      what = {"wd": f"'{program.weights} * constant' statement (its weight decay)",
              "beta1": "first interp(a, b, constant) or 'state = state * constant' statement",
              "beta2": "second interp(a, b, constant) or 'state = state * constant' statement"}
      raise ValueError(f"the program has no {what[name]} to tune")
    for index, position in where[name]:
      args = list(statements[index].args)
      args[position] = float(value)
      statements[index] = dataclasses.replace(statements[index], args=tuple(args))
  if schedule is not None and schedule != schedule_of(program):
    if schedule not in SCHEDULES:
      raise ValueError(f"unknown schedule '{schedule}'; expected one of {', '.join(SCHEDULES)}")
    if schedule == "constant":
      statements[:0] = _constant_prologue(program)
    else:
      del statements[:2]
  return program.replace(statements=tuple(statements))
