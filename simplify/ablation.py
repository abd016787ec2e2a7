"""Ablation: drop what the task cannot tell apart, one change at a time, to a fixed point.

The exact stages keep what a program computes; ablation changes it, and keeps a change only
when the task says it does not matter. This is the paper's last manual step made a procedure:
"we remove ``clip`` and ``arcsin`` ... no quality drop without them" (Chen et al., 2023,
Sec. 2 and Appendix).

Each round tries every candidate:

* **remove** a statement (later reads see the variable's previous value), and
* **bypass** a call: use one of its inputs of the result's type in place of its result
  (``clip(g, lr)`` becomes ``g``, never the scalar ``lr``). Products with a constant
  (``w * 0.46``, ``lr * 2e-4``) are not bypassed: dropping the constant would retune the
  weight decay or the step size, not simplify the algorithm,

each followed by the exact stages (so a removal that makes other statements dead takes them
too), duplicates (same ``dsl.semantic_hash``) and invalid programs dropped.

The weight decay is protected (``keep_weight_decay``): a candidate whose update no longer
reads the weights is not tried. A proxy of a few hundred steps cannot measure
regularization, which pays off on long runs (the built-in AdamW and Lion both "lose" their
weight decay on the default proxy at no cost); the paper tunes it per task instead. All
candidates of
a round are scored in one batch. A candidate is acceptable when its fitness is at least the
*baseline* (the fitness before any ablation) minus ``tolerance``, so changes cannot add up to
more than ``tolerance`` in all. Of the acceptable candidates the best-scoring one is kept
(ties: fewer statements) and a new round starts from it; the loop ends when no candidate is
acceptable (at most one round per statement of the input, plus one). Every trial is recorded
with the fitness before (the current program's) and after.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import dsl
from dsl.program import Program, ProgramError
from simplify import exact
from simplify.expression import Graph
from simplify.nodes import operand_type

Score = Callable[[Sequence[Program]], list[float]]


class Candidate(NamedTuple):
  description: str
  program: Program  # after the exact stages


class Trial(NamedTuple):
  """One candidate scored in ``round`` (1-based)."""
  round: int
  description: str
  program: Program
  hash: str
  fitness_before: float
  fitness_after: float
  accepted: bool


class Outcome(NamedTuple):
  program: Program
  baseline: float
  fitness: float
  trials: tuple[Trial, ...]


def _reads_weights(program: Program) -> bool:
  pruned = dsl.prune(program)
  return any(program.weights in s.reads for s in pruned.statements) or (
      program.weights in pruned.returns[:1])


def candidates(program: Program, keep_weight_decay: bool = True) -> list[Candidate]:
  """Every distinct simplification of ``program`` by one removal or one bypass (those that
  drop the update's dependence on the weights excluded when ``keep_weight_decay``)."""
  protect = keep_weight_decay and _reads_weights(program)
  raw: list[tuple[str, Program]] = []
  for index, statement in enumerate(program.statements):
    removed = program.replace(statements=program.statements[:index]
                              + program.statements[index + 1:])
    raw.append((f"remove '{statement.to_text()}'", removed))
  graph = Graph.of(program)
  for node in graph.nodes():
    if node.function in ("*", "/") and any(isinstance(a, float) for a in node.args):
      continue  # a constant factor is a hyperparameter (step size, weight decay): kept
    position = int(graph.positions[node][0])
    statement = program.statements[position]
    inputs = dict.fromkeys(a for a in node.args
                           if not isinstance(a, float) and operand_type(a) == node.type)
    for arg_index, arg in enumerate(node.args):
      if arg not in inputs:
        continue
      inputs.pop(arg)
      name = statement.args[arg_index]
      try:
        bypassed = graph.replace(node, arg).to_program()
      except ProgramError:
        continue
      raw.append((f"bypass '{statement.to_text()}' (use {name})", bypassed))
  seen = {dsl.semantic_hash(program)}
  out = []
  for description, candidate in raw:
    if not dsl.is_valid(candidate):
      continue
    candidate = exact.simplified(candidate)
    if protect and not _reads_weights(candidate):
      continue
    key = dsl.semantic_hash(candidate)
    if key not in seen:
      seen.add(key)
      out.append(Candidate(description, candidate))
  return out


def ablate(program: Program, score: Score, tolerance: float,
           baseline: float | None = None, keep_weight_decay: bool = True) -> Outcome:
  """Ablates ``program`` (already exactly simplified) on ``score`` (see the module docstring).

  Args:
    program: the program to ablate.
    score: fitness of a batch of programs (higher is better, ``-inf`` on failure).
    tolerance: the most fitness all kept changes may cost together (>= 0).
    baseline: ``program``'s fitness, if already known.
    keep_weight_decay: never try a candidate whose update ignores the weights.
  """
  if not tolerance >= 0:
    raise ValueError(f"tolerance must be >= 0, got {tolerance}")
  baseline = score([program])[0] if baseline is None else baseline
  current, fitness = program, baseline
  trials: list[Trial] = []
  for round_number in range(1, len(program.statements) + 2):
    options = candidates(current, keep_weight_decay)
    if not options or not math.isfinite(baseline):
      break
    scores = score([c.program for c in options])
    acceptable = [i for i, s in enumerate(scores)
                  if math.isfinite(s) and s >= baseline - tolerance]
    chosen = min(acceptable, key=lambda i: (-scores[i], len(options[i].program.statements)),
                 default=None)
    for i, (option, s) in enumerate(zip(options, scores)):
      trials.append(Trial(round_number, option.description, option.program,
                          dsl.semantic_hash(option.program), fitness, s, i == chosen))
    if chosen is None:
      break
    current, fitness = options[chosen].program, scores[chosen]
  return Outcome(current, baseline, fitness, tuple(trials))
