"""The warm start: the program a search begins from, scored (tuned first if configured) before
evolution begins.

``score`` loads the initial program (``config.initial_program``, or ``programs/initial.py`` of
a run that already started), tunes it on the proxy task when ``config.tune_initial`` is set
(``proxy_tasks.tuning``, the procedure and budget of the fitness reference: the paper's AdamW
as a warm start scores 0 when it tunes better than bias-corrected AdamW, below 0 when not;
every run goes to ``programs/initial_tuning.json``), and scores it
through the search's pool, waiting for every result. The driver (``search.driver``) turns the
result into child 0 and fills the islands with it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import dsl
from dsl.files import atomic_write, json_safe
from dsl.program import Program
from runlog.folder import RunFolder
from search import config as config_lib
from search.workers import ProgramWork

Scored = tuple[dict[str, Any], str]  # (result record, worker)


def load_initial_program(spec: str) -> Program:
  """A built-in program name (``adamw``) or a path to a program file."""
  if spec in dsl.library.names():
    return dsl.library.load(spec)
  return dsl.parse_file(spec)


def score_now(pool, programs: list[Program], batch_size: int,
              interrupted: Callable[[], bool],
              log: Callable[[str], None]) -> list[Scored] | None:
  """Scores ``programs`` on the search task through ``pool`` and waits for all of them; a
  batch whose worker died is sent again. Returns ``(result, worker)`` per program, or None
  once ``interrupted()``."""
  works = [ProgramWork(-1 - i, program) for i, program in enumerate(programs)]
  for start in range(0, len(works), batch_size):
    pool.submit(works[start:start + batch_size])
  results: dict[int, Scored] = {}
  while len(results) < len(works):
    if interrupted():
      return None
    for done in pool.wait(1.0):
      if done.results is None:
        log(f"{done.worker} died scoring the initial program; trying again")
        pool.submit(done.batch)
        continue
      for work, result in zip(done.batch, done.results):
        results[work.id] = (result, done.worker)
  return [results[work.id] for work in works]


def tuning_metric(result: dict[str, Any]) -> float:
  """What the warm start is tuned to minimise: ``exp(-normalized)``, the program's metric over
  tuned AdamW's (a geometric mean over a suite's tasks), so it is tuned for the fitness the
  search ranks by. The raw ``metric`` of a suite is the mean of its tasks' metrics, which the
  task with the largest scale decides (a language model's nats/byte over an MLP's loss); it is
  used only when a result has no reference. NaN for a failed run."""
  if result.get("status") != "ok":
    return math.nan
  normalized = result.get("normalized")
  if normalized is not None and math.isfinite(normalized):
    return math.exp(-normalized)
  metric = result.get("metric")
  return math.nan if metric is None else float(metric)


def tune(program: Program, scorer: Callable[[list[Program]], list[Scored] | None],
         budget: int, folder: RunFolder,
         log: Callable[[str], None]) -> tuple[Program, dict[str, Any], str] | None:
  """``program`` tuned by ``proxy_tasks.tuning`` with ``scorer`` (``score_now``), with its
  result and worker; None if scoring was interrupted."""
  from proxy_tasks import tuning  # pylint: disable=import-outside-toplevel
  scored: dict[str, Scored] = {}
  interrupted = False

  def metrics(programs: list[Program]) -> list[float]:
    nonlocal interrupted
    results = None if interrupted else scorer(programs)
    if results is None:
      interrupted = True
      return [math.nan] * len(programs)
    for candidate, (result, worker) in zip(programs, results):
      scored[candidate.to_text()] = (result, worker)
    return [tuning_metric(result) for result, _ in results]

  tuned = tuning.tune({"initial": tuning.space(program, label="initial_program")}, metrics,
                      budget)["initial"]
  if interrupted:
    return None
  atomic_write(folder.programs / "initial_tuning.json", json.dumps(
      json_safe(tuned.to_json()), indent=2))
  log(f"tuned the initial program: {tuned.describe()} (tuning_metric {tuned.best_metric:.4g}, "
      f"{tuned.runs} runs" + (f"; optimum at the limit of {', '.join(tuned.at_limit)}"
                              if tuned.at_limit else "") + ")")
  result, worker = scored[tuned.program.to_text()]
  return tuned.program, result, worker


def score(config: config_lib.SearchConfig, folder: RunFolder, pool,
          interrupted: Callable[[], bool],
          log: Callable[[str], None]) -> tuple[Program, dict[str, Any], str] | None:
  """The warm start, tuned if ``config.tune_initial``, with its result and worker; None if
  interrupted before it was scored."""
  program = load_initial_program(config.initial_program)
  if folder.programs.joinpath("initial.py").exists():
    program = dsl.parse_file(folder.programs / "initial.py")  # as the run started

  def scorer(programs: list[Program]) -> list[Scored] | None:
    return score_now(pool, programs, config.workers.batch_size, interrupted, log)

  if config.tune_initial:
    from proxy_tasks import tuning  # pylint: disable=import-outside-toplevel
    budget = int(config.task.overrides.get("tuning_budget", tuning.DEFAULT_BUDGET))
    return tune(program, scorer, budget, folder, log)
  scored = scorer([program])
  if scored is None:
    return None
  (result, worker), = scored
  return program, result, worker
