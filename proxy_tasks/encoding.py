"""A program as arrays for the interpreter: live statements only, registers, branch ids.

``encode(program)`` type-checks the program (``dsl.analysis.analyze``), drops statements that cannot
affect the update (backward liveness, iterated across steps: a state is live only if a live
statement reads its incoming value), and picks each statement's branch from its function and
operand types (``interpreter.branch_index``). Dead statements are dropped, never run: their
values cannot reach the update, so the result is the same (a NaN in a dead statement is
harmless in the reference too).

Registers (layout in ``interpreter``): every constant gets its own register, written once per
run; every value a statement assigns gets a register by liveness within the step: a value's
register is free again after its last read (operands are read before the target is written,
so a statement may write over its own operand), and a value that leaves the step (the update,
a state's next value) is put straight in its fixed register when that one is free. The code
ends with the moves that complete that (a parallel copy; a cycle such as two states swapping
goes through one extra register) and the row ``w - update``. The weights' incoming value
stays in register 0 for the whole step; the gradient's, ``lr``'s and the states' registers
are reused once dead (the caller rewrites 1 and 2 every step; the moves rewrite the states).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dsl import functions as fns
from dsl.analysis import Analysis, analyze
from dsl.program import Program, ProgramError, Type, param_types
from proxy_tasks import interpreter as interp

MAX_LENGTH = 128  # live statements
# Rows of code per program: the live statements, the moves that end a step (at most 5 copies
# and 2 through a temporary) and the weight update.
MAX_ROWS = MAX_LENGTH + 8
# Registers per program are rounded up to one of these (one compilation each). The last
# bound: every operand a distinct constant, every statement its own register, a temporary.
REGISTER_BUCKETS = (32, 64, 128,
                    interp.FIRST_FREE_REGISTER + (1 + interp.MAX_ARITY) * MAX_LENGTH + 1)


@dataclasses.dataclass(frozen=True)
class Encoded:
  """``code [length, 5]`` int32 rows (branch, arg0, arg1, arg2, target): the live
  statements, the end-of-step moves and ``w - update``; ``constants``: ``(register, value)``
  pairs; ``update``: the register that holds the update after the code runs; ``state_out``:
  the register of each of the 4 state slots' next value then (always ``STATE_REGISTERS``:
  the code moves them there); ``registers``: how many the program uses."""
  code: np.ndarray
  constants: tuple[tuple[int, float], ...]
  update: int
  state_out: tuple[int, ...]
  registers: int
  live: tuple[int, ...]  # indices of the statements that run


def live_statements(program: Program) -> tuple[int, ...]:
  """Indices of the statements whose values can reach the update (at this or a later step):
  the complement of ``dsl.redundant_statements``, cross-step liveness included."""
  return _live(analyze(program))


def _live(analysis: Analysis) -> tuple[int, ...]:
  return tuple(i for i, is_live in enumerate(analysis.live) if is_live)


def register_bucket(registers: int) -> int:
  for size in REGISTER_BUCKETS:
    if registers <= size:
      return size
  raise AssertionError(f"{registers} registers")


def encode(program: Program) -> Encoded:
  """``program`` as interpreter arrays (raises ``ProgramError`` if invalid or too long)."""
  analysis = analyze(program)  # one abstract execution: types and liveness
  types, live = analysis.types, _live(analysis)
  if len(live) > MAX_LENGTH:
    raise ProgramError(f"program has {len(live)} live statements; the evaluator takes at most "
                       f"{MAX_LENGTH}")
  statements = [program.statements[i] for i in live]
  forever = len(statements) + 1  # the last use of a value the end of the step reads

  # Values: ("in", name) for an input, ("def", j) for what statement j assigns. Resolve every
  # read to a value and find each value's last read, so its register can be reused after it.
  current = {name: ("in", name) for name in program.params}
  reads, last_use = [], {}
  for j, statement in enumerate(statements):
    values = [current[a] for a in statement.args if isinstance(a, str)]
    reads.append(values)
    for value in values:
      last_use[value] = j
    current[statement.target] = ("def", j)
  update_value = current[program.returns[0]]
  # A state whose next value only dead statements assign is dead itself (no live statement
  # reads it): None, and its register is left as it is.
  state_values = [current.get(name) for name in program.returns[1:]]
  for value in [update_value, ("in", program.weights), *state_values]:
    if value is not None:
      last_use[value] = forever
  # A value that ends in a fixed register is computed there when that register is free.
  preferred = {update_value: interp.UPDATE_REGISTER}
  preferred.update((v, r) for v, r in zip(reversed(state_values),
                                          reversed(interp.STATE_REGISTERS[:len(state_values)]))
                   if v is not None)

  # Constants first: their registers are written once per run and never reused.
  constants: dict[bytes, tuple[int, float]] = {}  # keyed by the float32 bits (-0.0, NaN)
  next_register = interp.FIRST_FREE_REGISTER
  for statement in statements:
    for arg in statement.args:
      key = None if isinstance(arg, str) else np.float32(arg).tobytes()
      if key is not None and key not in constants:
        constants[key] = (next_register, float(np.float32(arg)))
        next_register += 1

  register_of = {("in", program.weights): interp.W_REGISTER,
                 ("in", program.gradient): interp.G_REGISTER,
                 ("in", program.lr): interp.LR_REGISTER}
  register_of.update((("in", s), r) for s, r in zip(program.states, interp.STATE_REGISTERS))
  free = {interp.UPDATE_REGISTER, *interp.STATE_REGISTERS[len(program.states):]}
  free.update(r for v, r in register_of.items() if v not in last_use)

  def allocate(value) -> int:
    nonlocal next_register
    register = preferred.get(value)
    if register not in free:
      if not free:
        free.add(next_register)
        next_register += 1
      register = min(free)
    free.discard(register)
    return register

  env = param_types(program)
  rows = []
  for j, statement in enumerate(statements):
    function = fns.BY_NAME[statement.function]
    arg_registers, arg_types = [], []
    values = iter(reads[j])
    for arg in statement.args:
      if isinstance(arg, str):
        arg_registers.append(register_of[next(values)])
        arg_types.append(env[arg])
      else:
        arg_registers.append(constants[np.float32(arg).tobytes()][0])
        arg_types.append(Type.SCALAR)
    # Operands read for the last time free their registers before the target is picked: a
    # statement reads all its operands before it writes.
    for value in set(reads[j]):
      if last_use[value] == j:
        free.add(register_of[value])
    target = register_of[("def", j)] = allocate(("def", j))
    if ("def", j) not in last_use:  # never read (a later statement reassigns first)
      free.add(target)
    env[statement.target] = types[live[j]]
    arg_registers += [interp.W_REGISTER] * (interp.MAX_ARITY - len(arg_registers))
    rows.append([interp.branch_index(function, arg_types), *arg_registers, target])

  # End of the step: the update to UPDATE_REGISTER and each state's next value to its state
  # register (one parallel copy, as moves), then w - update into the weights register.
  moves = {interp.UPDATE_REGISTER: register_of[update_value]}
  moves.update((r, register_of[v]) for r, v in zip(interp.STATE_REGISTERS, state_values)
               if v is not None)
  for destination, source in _sequential_moves(moves, next_register):
    next_register = max(next_register, destination + 1)
    rows.append([interp.NOP, source, interp.W_REGISTER, interp.W_REGISTER, destination])
  rows.append([interp.branch_index(fns.BY_NAME["-"], (Type.TREE, Type.TREE)), interp.W_REGISTER,
               interp.UPDATE_REGISTER, interp.W_REGISTER, interp.W_REGISTER])
  code = np.asarray(rows, np.int32).reshape(len(rows), 5)
  return Encoded(code, tuple(constants.values()), interp.UPDATE_REGISTER,
                 tuple(interp.STATE_REGISTERS), next_register, live)


def _sequential_moves(moves: dict[int, int], temporary: int) -> list[tuple[int, int]]:
  """``(destination, source)`` copies, in an order that performs the parallel copy ``moves``
  (``destination -> source``, destinations distinct); a cycle goes through ``temporary``."""
  pending = {d: s for d, s in moves.items() if d != s}
  out = []
  while pending:
    ready = [d for d in pending if d not in pending.values()]
    if ready:
      out.append((ready[0], pending.pop(ready[0])))
      continue
    destination, source = next(iter(pending.items()))
    out.append((temporary, source))
    pending = {d: (temporary if s == source else s) for d, s in pending.items()}
  return out
