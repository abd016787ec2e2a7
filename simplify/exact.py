"""The exact stages: prune (cross-step liveness), then rewrite to a fixed point.

Both keep every update the program computes (up to floating-point rounding and the guards
named in ``simplify.rules``), so they keep ``dsl.functional_fingerprint``; neither needs a
task. The result is written in the canonical order with descriptive names and only its live
states (``simplify.expression``).
"""

from __future__ import annotations

from typing import NamedTuple

import dsl
from dsl.program import Program
from simplify import rewrite as rewrite_lib
from simplify.expression import Graph
from simplify.nodes import STATE, Param


class ExactStep(NamedTuple):
  """One exact change: ``stage`` is ``prune`` or the rule's name; ``what`` says what changed,
  ``why`` why it is exact."""
  stage: str
  what: str
  why: str
  program: Program


def prune_step(program: Program) -> tuple[ExactStep | None, Graph]:
  """Removes the redundant statements and the dead states (the step is None when there are
  none), and the DAG of the result (it keeps the original names as hints, so that generated
  names are replaced by roles once the rewrites reveal them)."""
  redundant = dsl.redundant_statements(program)
  graph = Graph.of(dsl.prune(program))
  live = graph.live_states()
  dead = [name for i, name in enumerate(program.states) if i not in live]
  pruned = graph.to_program()
  if not redundant and not dead and pruned == program:
    return None, graph
  parts = []
  if redundant:
    lines = ", ".join(f"{program.line_of(i)} ({program.statements[i].to_text()})"
                      for i in redundant)
    parts.append(f"removed {len(redundant)} redundant statement"
                 f"{'' if len(redundant) == 1 else 's'}: line {lines}")
  if dead:
    parts.append(f"dropped dead state{'' if len(dead) == 1 else 's'} {', '.join(dead)}")
  if not parts:
    parts.append("rewritten in canonical order with descriptive names")
  why = ("no update depends on them, at this step or a later one (cross-step liveness: a "
         "state counts only if a later update reads it)")
  return ExactStep("prune", "; ".join(parts), why, pruned), graph


def exact_steps(program: Program) -> list[ExactStep]:
  """Prune, then every rule application until none applies (raises ``ProgramError`` for an
  invalid program)."""
  dsl.check(program)
  steps = []
  pruned, graph = prune_step(program)
  if pruned is not None:
    steps.append(pruned)
  for application in rewrite_lib.rewrite(graph):
    steps.append(ExactStep(application.rule, f"{application.before}  ->  {application.after}",
                           application.why, application.program))
  return steps


def simplified(program: Program) -> Program:
  """``program`` after the exact stages."""
  steps = exact_steps(program)
  return steps[-1].program if steps else program


__all__ = ["ExactStep", "Param", "STATE", "exact_steps", "prune_step", "simplified"]
