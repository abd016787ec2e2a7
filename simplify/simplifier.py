"""The simplifier: prune, rewrite exactly, then (given a task) ablate; every step reported.

``simplify(program)`` runs the exact stages (``simplify.exact``); ``simplify(program,
scorer=Scorer(task))`` also calibrates the step size and ablates (``simplify.ablation``).
The result carries the simplified program and a ``Report`` whose every step says what changed,
why, the program's ``dsl.semantic_hash`` and, with a task, its fitness.
"""

from __future__ import annotations

import dataclasses
import math


import dsl
from dsl.program import Program
from simplify import ablation as ablation_lib
from simplify import exact
from simplify import scoring

DEFAULT_TOLERANCE = 0.05  # fitness = log(metric ratio): about the seed-to-seed noise at 2 seeds
DEFAULT_SEEDS = 2


@dataclasses.dataclass(frozen=True)
class Step:
  """One step of the report: ``stage`` (input, prune, a rule's name, ablate, result)."""
  stage: str
  what: str
  why: str
  program: Program
  hash: str
  fitness: float | None = None


@dataclasses.dataclass(frozen=True)
class Simplification:
  """What ``simplify`` found: the simplified program and how it got there.

  ``calibration`` is ``(factor, [(k, fitness) ...])`` when a task was given;
  ``trials`` every ablation tried (``simplify.ablation.Trial``).
  """
  input: Program
  program: Program
  steps: tuple[Step, ...]
  trials: tuple[ablation_lib.Trial, ...] = ()
  task: str | None = None
  calibration: tuple[float, tuple[tuple[float, float], ...]] | None = None
  tolerance: float | None = None

  def report(self) -> str:
    return format_report(self)


def _fitness_text(fitness: float | None) -> str:
  if fitness is None:
    return ""
  return f"  fitness {fitness:+.4f}" if math.isfinite(fitness) else "  fitness -inf (failed)"


def simplify(program: Program, scorer: scoring.Scorer | None = None,
             tolerance: float = DEFAULT_TOLERANCE, calibrate: bool = True,
             keep_weight_decay: bool = True) -> Simplification:
  """Simplifies ``program``; with a ``scorer`` (a task) also calibrates and ablates
  (``simplify.ablation.ablate``; ``calibrate``: ``simplify.scoring.calibrate``).

  Raises ``dsl.ProgramError`` for an invalid program.
  """
  dsl.check(program)
  exact_steps = exact.exact_steps(program)
  programs = [program] + [s.program for s in exact_steps]
  fitness: list[float | None] = [None] * len(programs)
  calibration = None
  trials: tuple[ablation_lib.Trial, ...] = ()
  final = programs[-1]
  if scorer is not None:
    if calibrate:
      factor, grid_fitness = scoring.calibrate(final, scorer)
      scorer.factor = factor
      calibration = (factor, tuple(zip(scoring.CALIBRATION_GRID, grid_fitness)))
    fitness = list(scorer(programs))
  steps = [Step("input", f"{len(program.statements)} statements, {program.num_states} states",
                "as given", program, dsl.semantic_hash(program), fitness[0])]
  for step, f in zip(exact_steps, fitness[1:]):
    steps.append(Step(step.stage, step.what, step.why, step.program,
                      dsl.semantic_hash(step.program), f))
  if scorer is not None and fitness[-1] is not None and math.isfinite(fitness[-1]):
    outcome = ablation_lib.ablate(final, scorer, tolerance, baseline=fitness[-1],
                                  keep_weight_decay=keep_weight_decay)
    trials = outcome.trials
    for trial in trials:
      if trial.accepted:
        steps.append(Step(
            "ablate", f"round {trial.round}: {trial.description}",
            f"fitness {trial.fitness_before:+.4f} -> {trial.fitness_after:+.4f} (baseline "
            f"{outcome.baseline:+.4f}, tolerance {tolerance})", trial.program, trial.hash,
            trial.fitness_after))
    final = outcome.program
  return Simplification(program, final, tuple(steps), trials,
                        scorer.task.name if scorer is not None else None, calibration,
                        tolerance if scorer is not None else None)


def format_report(result: Simplification) -> str:
  """The step-by-step report, as text."""
  out = ["Simplification report", ""]
  if result.task is not None:
    out.append(f"fitness: log(AdamW metric / metric) on task {result.task} (higher is better)")
  if result.calibration is not None:
    factor, grid = result.calibration
    out.append(f"step-size calibration: update x {factor:.4g} (best on the grid; every "
               f"fitness below is at this step size, the programs keep their constants)")
    out.append("  " + ", ".join(f"x{k:.3g}: {f:+.3f}" if math.isfinite(f) else f"x{k:.3g}: -inf"
                                for k, f in grid))
  for number, step in enumerate(result.steps):
    out.append("")
    out.append(f"[{number}] {step.stage}: {step.what}")
    out.append(f"    why: {step.why}")
    out.append(f"    hash {step.hash}{_fitness_text(step.fitness)}")
    out.extend("    " + line for line in step.program.to_text().rstrip("\n").splitlines())
  if result.trials:
    out.append("")
    out.append(f"Ablations tried (kept when fitness >= baseline - {result.tolerance}):")
    for trial in result.trials:
      after = (f"{trial.fitness_after:+.4f}" if math.isfinite(trial.fitness_after)
               else "-inf")
      mark = "KEPT" if trial.accepted else "    "
      out.append(f"  {mark} round {trial.round}: {trial.description}: fitness "
                 f"{trial.fitness_before:+.4f} -> {after}")
  out.append("")
  out.append(f"Result ({len(result.input.statements)} -> {len(result.program.statements)} "
             f"statements, {result.input.num_states} -> {result.program.num_states} states, "
             f"hash {dsl.semantic_hash(result.program)}):")
  out.append(result.program.to_text().rstrip("\n"))
  return "\n".join(out) + "\n"
