"""A program as arrays for the interpreter: live statements only, registers, branch ids.

``encode(program)`` type-checks the program (``dsl.infer_types``), drops statements that cannot
affect the update (backward liveness, iterated across steps: a state is live only if a live
statement reads its incoming value), assigns a register to every variable and constant, and
picks each statement's branch from its function and operand types
(``interpreter.branch_index``). Dead statements are dropped, never run: their values cannot
reach the update, so the result is the same (a NaN in a dead statement is harmless in the
reference too).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dsl import functions as fns
from dsl.program import Program, ProgramError, Type, infer_types, param_types
from proxy_tasks import interpreter as interp

MAX_LENGTH = 128  # live statements
# Registers per program are rounded up to one of these (one compilation each).
REGISTER_BUCKETS = (32, 64, 128, interp.FIRST_FREE_REGISTER + (1 + interp.MAX_ARITY) * MAX_LENGTH)


@dataclasses.dataclass(frozen=True)
class Encoded:
  """``code [length, 5]`` int32 rows (branch, arg0, arg1, arg2, target); ``constants``:
  ``(register, value)`` pairs; ``update``: the register of the update; ``state_out``: the
  register each of the 4 state slots takes its next value from; ``registers``: how many."""
  code: np.ndarray
  constants: tuple[tuple[int, float], ...]
  update: int
  state_out: tuple[int, ...]
  registers: int
  live: tuple[int, ...]  # indices of the statements that run


def live_statements(program: Program) -> tuple[int, ...]:
  """Indices of the statements whose values can reach the update (at this or a later step)."""
  live_out = {program.returns[0]}
  while True:
    live, kept = set(live_out), []
    for index in range(len(program.statements) - 1, -1, -1):
      statement = program.statements[index]
      if statement.target in live:
        kept.append(index)
        live.discard(statement.target)
        live.update(statement.reads)
    grown = live_out | {program.returns[1 + i] for i, state in enumerate(program.states)
                        if state in live}
    if grown == live_out:
      return tuple(reversed(kept))
    live_out = grown


def register_bucket(registers: int) -> int:
  for size in REGISTER_BUCKETS:
    if registers <= size:
      return size
  raise AssertionError(f"{registers} registers")


def encode(program: Program) -> Encoded:
  """``program`` as interpreter arrays (raises ``ProgramError`` if invalid or too long)."""
  types = infer_types(program)
  live = live_statements(program)
  if len(live) > MAX_LENGTH:
    raise ProgramError(f"program has {len(live)} live statements; the evaluator takes at most "
                       f"{MAX_LENGTH}")

  registers = {program.weights: interp.W_REGISTER, program.gradient: interp.G_REGISTER,
               program.lr: interp.LR_REGISTER}
  registers.update(zip(program.states, interp.STATE_REGISTERS))
  constants: dict[bytes, tuple[int, float]] = {}  # keyed by the float32 bits (-0.0, NaN)
  next_register = interp.FIRST_FREE_REGISTER
  env = param_types(program)
  rows = []
  for index in live:
    statement = program.statements[index]
    function = fns.BY_NAME[statement.function]
    arg_registers, arg_types = [], []
    for arg in statement.args:
      if isinstance(arg, str):
        arg_registers.append(registers[arg])
        arg_types.append(env[arg])
      else:
        key = np.float32(arg).tobytes()
        if key not in constants:
          constants[key] = (next_register, float(np.float32(arg)))
          next_register += 1
        arg_registers.append(constants[key][0])
        arg_types.append(Type.SCALAR)
    if statement.target not in registers:
      registers[statement.target] = next_register
      next_register += 1
    env[statement.target] = types[index]
    arg_registers += [interp.W_REGISTER] * (interp.MAX_ARITY - len(arg_registers))
    rows.append([interp.branch_index(function, arg_types), *arg_registers,
                 registers[statement.target]])
  state_out = [registers[name] for name in program.returns[1:]]
  state_out += list(interp.STATE_REGISTERS[len(state_out):])
  code = np.asarray(rows, np.int32).reshape(len(rows), 5)
  return Encoded(code, tuple(constants.values()),
                 registers[program.returns[0]], tuple(state_out), next_register, live)
