"""The meta-overfitting monitor's routing: the search's current best, sent through the
search's own worker pool to be scored on the monitor's task.

``meta_validation.monitor.Monitor`` decides when a point is due (every ``every`` scored
programs, when the best changed) and keeps its CSV and plot; this module does the traffic:
``offer`` submits a due program as one ``ProgramWork`` carrying the monitor's ticket, on the
monitor's task (``workers.Task``), and ``receive`` turns the worker's answer (or its death)
into the point's fitness (``dsl.ranked_fitness``: a failed run is ``-inf``). The program never
joins a population, the event log or the fitness cache.
"""

from __future__ import annotations

import math
import os
from typing import Callable

from dsl.scores import ranked_fitness
from search import config as config_lib
from search import workers
from search.evolution import Member
from search.workers import ProgramWork


class MonitorRouting:
  """Routes the best program to the monitor's task and its results back to the monitor."""

  def __init__(self, folder: str | os.PathLike, meta: config_lib.MetaValidationConfig, pool,
               log: Callable[[str], None]):
    from meta_validation import monitor  # pylint: disable=import-outside-toplevel
    self.monitor = monitor.Monitor(folder, meta.task, meta.every)  # reloads its CSV
    self.task = workers.Task.of(meta.task, meta.overrides, meta.evaluator)
    self.pool = pool
    self.log = log
    self.in_flight = 0

  def offer(self, scored: int, best: Member | None) -> None:
    """Asks the monitor whether ``best`` is due after ``scored`` programs; if so, sends it."""
    if best is None:
      return
    due = self.monitor.due(scored, best.key, best.program, best.fitness)
    if due is not None:
      ticket, program = due
      self.pool.submit([ProgramWork(-1, program, ticket)], self.task)
      self.in_flight += 1

  def receive(self, done: workers.Completed) -> None:
    """Records the point of a batch ``offer`` sent (a dead worker: a failed point)."""
    self.in_flight -= 1
    work: ProgramWork = done.batch[0]
    if done.results is None:  # the worker died on it: a failed point, not a search error
      fitness, status, reason = -math.inf, "died", done.error
    else:
      result = done.results[0]
      fitness, status, reason = result["fitness"], result["status"], result.get("reason")
    fitness = ranked_fitness(fitness)
    if not math.isfinite(fitness):
      self.log(f"meta-validation of program {work.ticket.key[:16]} on {self.monitor.task} "
               f"failed ({status}: {reason})")
    self.monitor.record(work.ticket, fitness)
