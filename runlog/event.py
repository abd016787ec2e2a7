"""One line of a run's event log (``events.jsonl``): a program that joined a population.

The driver writes one ``Event`` per program it resolved (trained, or answered from the fitness
cache), in the order they joined; the log is what a resume replays, what the lineage and the
funnel read. ``to_json`` is the line's content, its keys in the fields' order; non-finite
numbers are written as ``dsl.files.json_float`` writes them (``"-inf"``, ``"nan"``), and a
reader ranks a logged fitness with ``dsl.ranked_fitness``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dsl.files import json_safe


@dataclasses.dataclass(frozen=True)
class Event:
  """A program that joined a population.

  Attributes:
    seq: the event's index in the log (0 for the warm start).
    id: the program's id (``evolution.INITIAL_ID`` for the warm start).
    parent: the id of the program it was mutated from; None for the warm start.
    island: the island it joined; None for the warm start (it joins every island).
    mutation: the mutation that made it (``"initial"`` for the warm start).
    key: its fitness-cache key (``dsl.FitnessCache.key``).
    fitness: its fitness as the search ranks it (``-inf``: the run failed).
    status: the evaluator's status, or ``"cached"`` when the cache answered.
    seconds: the training time; None when nothing was trained.
    worker: the worker that trained it; None when nothing was trained.
    metric: the task's validation metric (lower is better); None when unknown.
    normalized: the metric relative to tuned AdamW's; None when not normalised.
    reason: why a run failed or stopped early ("" when it did not).
    redundant: the fraction of its statements that cannot affect the update.
    elapsed_s: seconds of search (over all sessions) when it joined.
    program: its text (``dsl.Program.to_text``).
  """
  seq: int
  id: int
  parent: int | None
  island: int | None
  mutation: str
  key: str
  fitness: float
  status: str
  seconds: float | None
  worker: str | None
  metric: float | None
  normalized: float | None
  reason: str
  redundant: float | None
  elapsed_s: float
  program: str

  def to_json(self) -> dict[str, Any]:
    """The event as strict-JSON-ready data (one line of ``events.jsonl``)."""
    return json_safe({field.name: getattr(self, field.name)
                      for field in dataclasses.fields(self)})
