"""Dependency tracking, cross-step liveness and pruning.

A statement is *live* when some live output depends on it; every other statement is redundant
(the paper reports 69.8% of the statements of an evolved population to be redundant, Chen et
al., 2023, Sec. 2). The outputs of a step are the update and the outgoing states, but an
outgoing state only matters if a later step reads it: the value of state ``i`` leaving step
``t`` is the value of state ``i`` entering step ``t + 1``. So

* the update is live;
* a statement is live when a live statement or a live output reads its result;
* the outgoing value of state ``i`` is live when a live statement (or the update) reads the
  incoming value of state ``i``.

This is the *least* fixed point, computed as reachability from the update through
def-use links, where reading incoming state ``i`` also reaches outgoing state ``i``. A state
that only feeds itself (``m = m + g`` while nothing else reads ``m``) is dead: no update ever
depends on it. The paper's released code stops at the first step (every returned state is
live); with cross-step liveness its Program 4 keeps one effective state, like Lion, because the
only statement that reads the incoming ``m`` is dead and ``m = cosh(update)`` computes a value
nobody reads.

``prune`` keeps the signature (the number of states stays, so a pruned program drops into any
place the original fits). A dead state is returned unchanged: its return names the state's own
parameter, so it stays at its initial zeros. If a live statement reuses that parameter's name as
a temporary (Program 8's ``m = interp(g, v, 0.9)``), the temporary is renamed (``m_1``) so that
the returned name really is the incoming state. The pruned program computes the same updates
from the same inputs at every step.
"""

from __future__ import annotations

from typing import NamedTuple

from dsl.program import Program, Statement, Type, abstract_execution, param_of, param_ref


class Analysis(NamedTuple):  # a NamedTuple: built once per analysed program, cheaply
  """Dependency and liveness facts about one valid program.

  Attributes:
    program: the program analysed.
    types: the type of each statement's result (``dsl.infer_types``).
    sources: per statement, per argument, what the argument refers to: a statement index
      (>= 0), a parameter (``dsl.program.param_ref``, negative) or a constant (a float).
    outputs: what each returned name refers to (statement index or parameter reference).
    live: per statement, whether a live output depends on it.
    live_states: indices (into ``program.states``) of the states whose value some update
      depends on, ascending.
  """
  program: Program
  types: tuple[Type, ...]
  sources: tuple[tuple[int | float, ...], ...]
  outputs: tuple[int, ...]
  live: tuple[bool, ...]
  live_states: tuple[int, ...]

  @property
  def redundant(self) -> tuple[int, ...]:
    return tuple(i for i, is_live in enumerate(self.live) if not is_live)

  def state_of(self, ref: int) -> int | None:
    """The state index a parameter reference stands for, or None (weights, gradient, lr)."""
    if ref >= 0:
      return None
    index = param_of(ref) - 2
    return index if 0 <= index < self.program.num_states else None


def analyze(program: Program) -> Analysis:
  """Abstract execution, then liveness (memoised on the program, ``Program.memo``).

  Raises ``ProgramError`` for an invalid program.
  """
  execution = abstract_execution(program)
  liveness = program.memo("liveness")
  if liveness is None:  # memoised without the program itself: no reference cycle to collect
    liveness = program.remember("liveness", _liveness(program, execution))
  return Analysis(program, execution.types, execution.sources, execution.outputs, *liveness)


def _liveness(program: Program, execution) -> tuple[tuple[bool, ...], tuple[int, ...]]:
  """``(live, live_states)`` of ``Analysis``: reachability from the update (module docstring)."""
  sources, outputs = execution.sources, execution.outputs
  num_states = program.num_states
  first_state_ref = param_ref(2)  # states are params[2:-1]: refs -3, -4, ...
  live = [False] * len(sources)
  state_live = [False] * num_states
  pending = [outputs[0]]
  while pending:
    ref = pending.pop()
    if ref >= 0:
      if not live[ref]:
        live[ref] = True
        pending.extend(s for s in sources[ref] if s.__class__ is int)
    else:
      state = first_state_ref - ref
      if 0 <= state < num_states and not state_live[state]:
        state_live[state] = True
        pending.append(outputs[1 + state])
  return tuple(live), tuple(i for i, is_live in enumerate(state_live) if is_live)


def redundant_statements(program: Program) -> tuple[int, ...]:
  """0-based indices (ascending) of the statements no live output depends on."""
  return analyze(program).redundant


def effective_states(program: Program) -> int:
  """The number of states that are memory: some later update depends on their value, and
  they carry something computed from the step's inputs.

  A state that no statement writes (returned as it came in, or as another such state) stays
  at its initial zeros for ever: a constant, however many updates read it.
  """
  analysis = analyze(program)
  first_state_ref = param_ref(2)
  constant = set(range(program.num_states))
  changed = True
  while changed:
    changed = False
    for state in sorted(constant):
      out = analysis.outputs[1 + state]
      source = first_state_ref - out if out.__class__ is int and out < 0 else None
      if source is None or not 0 <= source < program.num_states or source not in constant:
        constant.discard(state)
        changed = True
  return sum(1 for state in analysis.live_states if state not in constant)


def prune(program: Program) -> Program:
  """``program`` without its redundant statements (see the module docstring).

  The result is valid, computes the same update sequence, has the same ``semantic_hash``,
  and ``prune(prune(p)) == prune(p)``.
  """
  analysis = analyze(program)
  kept = [s for s, is_live in zip(program.statements, analysis.live) if is_live]
  returns = list(program.returns)
  dead_states = [i for i in range(program.num_states) if i not in analysis.live_states]
  for state in dead_states:
    name = program.states[state]
    returns[1 + state] = name
    if any(s.target == name for s in kept):
      kept = _rename(kept, name, _fresh_name(program, name), returns, state)
  return program.replace(statements=tuple(kept), returns=tuple(returns))


def _fresh_name(program: Program, name: str) -> str:
  taken = set(program.params) | {s.target for s in program.statements} | set(program.returns)
  suffix = 1
  while f"{name}_{suffix}" in taken:
    suffix += 1
  return f"{name}_{suffix}"


def _rename(statements: list[Statement], old: str, new: str, returns: list[str],
            keep_return: int) -> list[Statement]:
  """Renames every assignment to ``old`` and the reads it reaches (in ``statements`` and in
  ``returns``, except the return of state ``keep_return``).

  Valid only when no statement reads the incoming value of ``old`` (true for a dead state
  in a pruned program): then every read of ``old`` reaches one of the renamed assignments.
  """
  renamed = []
  for statement in statements:
    args = tuple(new if a == old else a for a in statement.args)
    target = new if statement.target == old else statement.target
    renamed.append(Statement(target, statement.function, args))
  for k, name in enumerate(returns):
    if name == old and k != 1 + keep_return:
      returns[k] = new
  return renamed
