"""The learning rate and weight decay of a program, as data, and the grids they are tuned on.

A program's peak learning rate is the constant of its statement ``lr = lr * c`` (``c``
multiplies the schedule parameter) and its weight decay the constant of ``wd = w * c`` (``c``
multiplies the weights), as in the paper's AdamW (Program 3). Tuning rewrites those constants
(programs are data); it never needs to know the rest of the program.

``GRIDS`` are the grids that AdamW and Lion are tuned on everywhere: the fitness reference of
the proxy tasks (``proxy_tasks.Evaluator``: tuned AdamW), the warm start of a search
(``tune_initial``), the baselines (``python -m proxy_tasks.baselines``) and meta-validation
(``meta_validation.tuning``).
"""

from __future__ import annotations

import dataclasses
import itertools

from dsl.program import Program, Statement

GRIDS = {
    # Wide enough that the tuned optimum is inside the grid on the proxies and meta-validation
    # tasks (measured: on the 150- and 300-step mlp_digits proxies AdamW's best lr is 3e-2 and
    # Lion's 3e-2 with weight decay 1; on 600-step digits tasks AdamW's best lr was 1e-2).
    "adamw": {"lr": (1e-3, 3e-3, 1e-2, 3e-2, 1e-1), "wd": (0.0, 0.1, 0.3)},
    "lion": {"lr": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2), "wd": (0.0, 0.3, 1.0)},
}


def _constant_position(statement: Statement, variable: str) -> int | None:
  """Where the constant of ``target = variable * c`` (or ``c * variable``) is, if it is one."""
  if statement.function != "*" or variable not in statement.args:
    return None
  for position, arg in enumerate(statement.args):
    if isinstance(arg, float):
      return position
  return None


def with_hyperparameters(program: Program, lr: float | None = None,
                         wd: float | None = None) -> Program:
  """``program`` with the constant of ``lr = lr * c`` set to ``lr`` and of ``wd = w * c`` set
  to ``wd``; raises ``ValueError`` if the program has no such statement."""
  statements = list(program.statements)
  for name, variable, value in (("learning rate", program.lr, lr),
                                ("weight decay", program.weights, wd)):
    if value is None:
      continue
    for index, statement in enumerate(statements):
      position = _constant_position(statement, variable)
      if position is not None:
        args = list(statement.args)
        args[position] = float(value)
        statements[index] = dataclasses.replace(statement, args=tuple(args))
        break
    else:
      raise ValueError(f"the program has no '{variable} * constant' statement (its {name}) "
                       "to tune")
  return program.replace(statements=tuple(statements))


def grid(program: Program, spec: dict) -> list[tuple[dict, Program]]:
  """Every point ``{"lr": ..., "wd": ...}`` of ``spec`` (a ``GRIDS`` entry) with ``program``
  rewritten to it, learning rate major."""
  return [({"lr": lr, "wd": wd}, with_hyperparameters(program, lr=lr, wd=wd))
          for lr, wd in itertools.product(spec["lr"], spec["wd"])]
