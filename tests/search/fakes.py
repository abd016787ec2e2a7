"""Fake evaluators for the search's tests: fast, deterministic, no JAX training."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import time


@dataclasses.dataclass(frozen=True)
class FakeResult:
  fitness: float
  metric: float
  normalized: float
  status: str = "ok"
  reason: str = ""
  seconds: float = 0.0


def toy_fitness(program) -> float:
  """Rewards programs of 14 statements that use `sign` (AdamW: 9 statements, no sign), plus a
  deterministic text-derived jitter so that distinct programs rarely tie."""
  used = {s.function for s in program.statements}
  jitter = int(hashlib.sha256(program.to_text().encode()).hexdigest()[:8], 16) / 16**8
  return -0.1 * abs(len(program.statements) - 14) + 0.5 * ("sign" in used) + 0.01 * jitter


class FakeEvaluator:
  """Scores with ``toy_fitness``; remembers every program text it scored (``log_path``: also
  appends them to a file, to count scorings across processes); ``delay_s`` per program.

  ``crash_marker``: the first batch (over all processes) makes its process exit. With
  ``stall_marker``, the first batch of two or more programs, over all processes, scores its
  first program, writes the process id to that file and hangs, to be killed from outside
  mid-batch.
  """

  def __init__(self, name: str = "fake", delay_s: float = 0.0, log_path: str = "",
               crash_marker: str = "", stall_marker: str = ""):
    self.name = name
    self.delay_s = delay_s
    self.log_path = log_path
    self.crash_marker = crash_marker
    self.stall_marker = stall_marker
    self.scored: list[str] = []

  def _stall_here(self) -> bool:
    try:  # O_EXCL: one process wins, once
      descriptor = os.open(self.stall_marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
      return False
    os.write(descriptor, f"{os.getpid()}\n".encode())
    os.close(descriptor)
    return True

  def evaluate(self, programs):
    if self.crash_marker and not os.path.exists(self.crash_marker):
      pathlib.Path(self.crash_marker).write_text("crashed once\n")
      os._exit(1)  # the worker process dies mid-batch, once
    out = []
    for index, program in enumerate(programs):
      if (index == 1 and self.stall_marker and not os.path.exists(self.stall_marker)
          and self._stall_here()):
        time.sleep(600)  # killed meanwhile
      if self.delay_s:
        time.sleep(self.delay_s)
      text = program.to_text()
      self.scored.append(text)
      if self.log_path:
        with open(self.log_path, "a", encoding="utf-8") as f:
          f.write(hashlib.sha256(text.encode()).hexdigest() + "\n")
      fitness = toy_fitness(program)
      out.append(FakeResult(fitness, -fitness, fitness, seconds=self.delay_s))
    return out


def make(name: str, **overrides) -> FakeEvaluator:
  """The ``task.evaluator`` factory (``tests.search.fakes:make``)."""
  return FakeEvaluator(name, **overrides)


def broken(name: str, **overrides) -> FakeEvaluator:
  """A ``task.evaluator`` factory that cannot build its task (a misnamed meta task)."""
  raise KeyError(f"unknown proxy task '{name}' ({overrides})")
