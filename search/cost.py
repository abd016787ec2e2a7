"""What a search costs: CPU hours and throughput, kept in ``cost.json`` of its run folder.

The paper's controls are compared at equal compute, and a long run is judged by what it
cost, so each run folder records, over all its sessions (a resumed run adds a session)::

    cpu_hours              = (driver_cpu_s + worker_cpu_s) / 3600
    programs_per_s         = programs_trained / wall_s
    programs_per_cpu_hour  = programs_trained / cpu_hours

* ``driver_cpu_s``: the driver's process CPU time (``time.process_time``: all its threads;
  with ``workers.backend: local`` the scoring runs here and is counted here);
* ``worker_cpu_s``: per Ray worker, the process CPU time (user + system) of its actor, read
  from ``/proc/PID/stat`` when it runs on this machine (the actor names itself
  ``worker-N@HOST:PID``; its evaluator's compile time included), else, for an actor on
  another node (or with no ``/proc``), the seconds its results report (``seconds`` of each
  result: the wall time of its share of the vmapped batch; one core per actor, so about its
  CPU time). In-process workers (``LocalPool``) add nothing here: they are in the driver's;
* ``worker_reported_s``: the seconds every result reported (all backends), for comparison;
* ``wall_s``: from the search's start (its workers already started) to the last write;
* ``programs_trained``: programs scored by workers (the search's ``scored``: the warm start
  and every child not taken from the cache); ``programs_generated``: children, cached ones
  included (what ``budget.max_programs`` counts).

Every figure accumulates over sessions and never steps back: ``sessions`` lists each session's
own wall and CPU seconds (a resumed session appends its entry), and the totals are their sums.
Every batch a worker sends back is seen (``MeteredPool``): the children, the warm start's
tuning grid and the meta-validation monitor's points alike. The file is written with every
checkpoint (``dsl.files.atomic_write``), so a killed session loses at most one checkpoint
interval of its figures (and an actor that died keeps the CPU time last read), and nothing is
counted twice.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import socket
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from dsl.files import atomic_write, json_safe

COST_FORMAT = 1
FILE_NAME = "cost.json"
_WORKER = re.compile(r"@(?P<host>[^@:]+):(?P<pid>\d+)$")  # "worker-3@host:4242" (workers.py)
_SESSION_FIGURES = ("wall_s", "driver_cpu_s", "worker_cpu_s", "worker_reported_s")


def process_cpu_seconds(pid: int) -> float | None:
  """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``), None if unknown."""
  try:
    text = pathlib.Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
  except OSError:
    return None
  # Fields after the command name, which is in parentheses and may hold spaces: the 14th and
  # 15th fields of the line (utime, stime) are the 12th and 13th after it.
  fields = text[text.rfind(")") + 2:].split()
  try:
    ticks = int(fields[11]) + int(fields[12])
  except (IndexError, ValueError):
    return None
  return ticks / os.sysconf("SC_CLK_TCK")


def read(path: str | os.PathLike) -> dict[str, Any] | None:
  """The ``cost.json`` of run folder ``path``, or None if it has none; ``ValueError`` (naming
  the file) if it is not one."""
  file = pathlib.Path(path) / FILE_NAME
  try:
    data = json.loads(file.read_text(encoding="utf-8"))
  except FileNotFoundError:
    return None
  except ValueError as e:  # atomic writes make this a foreign edit, not a crash
    raise ValueError(f"{file}: corrupt cost record ({e})") from None
  if (not isinstance(data, dict) or data.get("format") != COST_FORMAT
      or not isinstance(data.get("sessions"), list)):
    raise ValueError(f"{file}: not a cost record of format {COST_FORMAT}")
  return data


class CostMeter:
  """Measures one session of a search; ``observe`` sees every batch a worker sends back,
  ``write`` brings ``cost.json`` up to date (past sessions, this one, the totals)."""

  def __init__(self, clock: Callable[[], float] = time.monotonic,
               cpu: Callable[[], float] = time.process_time, host: str | None = None,
               process_cpu: Callable[[int], float | None] = process_cpu_seconds):
    self.clock = clock
    self.cpu = cpu
    self.host = socket.gethostname() if host is None else host
    self.process_cpu = process_cpu
    self._wall_start = clock()
    self._cpu_start = cpu()
    self._started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    self._past: list[dict[str, Any]] = []  # earlier sessions, from cost.json
    self._trained = 0  # the most programs trained written so far (never steps back)
    self._generated = 0
    self._reported: dict[str, float] = {}  # worker -> seconds its results reported
    self._pids: dict[str, int] = {}        # worker on this host -> its process id
    self._measured: dict[str, float] = {}  # worker -> its process CPU seconds, last read
    self._remote: set[str] = set()         # workers on other hosts

  def resume(self, path: str | os.PathLike) -> None:
    """Takes the sessions already recorded in run folder ``path`` (if any)."""
    data = read(path)
    if data is not None:
      self._past = list(data["sessions"])
      self._trained = int(data.get("programs_trained", 0))
      self._generated = int(data.get("programs_generated", 0))

  # ---- measuring ----------------------------------------------------------------------------
  def observe(self, completed: Iterable[Any]) -> None:
    """Counts the seconds reported by each batch (``workers.Completed``) and reads the CPU
    time of the worker that sent it."""
    for done in completed:
      worker = done.worker or ""
      seconds = 0.0
      for result in done.results or ():
        value = result.get("seconds") if isinstance(result, dict) else None
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
          seconds += float(value)
      self._reported[worker] = self._reported.get(worker, 0.0) + seconds
      if worker not in self._pids and worker not in self._remote:
        match = _WORKER.search(worker)
        if match is None:
          continue  # in the driver's process: its CPU is the driver's
        if match["host"] != self.host:
          self._remote.add(worker)
          continue
        self._pids[worker] = int(match["pid"])
      if worker in self._pids:
        self._read(worker)

  def _read(self, worker: str) -> None:
    value = self.process_cpu(self._pids[worker])
    if value is not None:  # the process is gone: its last reading stands
      self._measured[worker] = max(value, self._measured.get(worker, 0.0))

  def session(self) -> dict[str, Any]:
    """This session's figures so far."""
    for worker in self._pids:
      self._read(worker)
    unmeasured = [w for w in (*self._pids, *self._remote) if w not in self._measured]
    worker_cpu = (sum(self._measured.values())
                  + sum(self._reported.get(w, 0.0) for w in unmeasured))
    return {"started": self._started,
            "wall_s": max(0.0, self.clock() - self._wall_start),
            "driver_cpu_s": max(0.0, self.cpu() - self._cpu_start),
            "worker_cpu_s": worker_cpu,
            "worker_reported_s": sum(self._reported.values()),
            "workers_measured": len(self._measured), "workers_estimated": len(unmeasured)}

  def record(self, programs_trained: int, programs_generated: int) -> dict[str, Any]:
    """The whole record: every session (this one last) and the totals."""
    sessions = self._past + [self.session()]
    totals = {k: sum(float(s.get(k, 0.0)) for s in sessions) for k in _SESSION_FIGURES}
    self._trained = max(self._trained, int(programs_trained))
    self._generated = max(self._generated, int(programs_generated))
    cpu_hours = (totals["driver_cpu_s"] + totals["worker_cpu_s"]) / 3600
    return {
        "format": COST_FORMAT,
        "cpu_hours": cpu_hours,
        **totals,
        "programs_trained": self._trained,
        "programs_generated": self._generated,
        "programs_per_s": self._trained / totals["wall_s"] if totals["wall_s"] > 0 else None,
        "programs_per_cpu_hour": self._trained / cpu_hours if cpu_hours > 0 else None,
        "sessions": sessions,
    }

  def write(self, path: str | os.PathLike, programs_trained: int,
            programs_generated: int) -> dict[str, Any]:
    """Writes ``cost.json`` in run folder ``path``; returns what it wrote."""
    record = self.record(programs_trained, programs_generated)
    atomic_write(pathlib.Path(path) / FILE_NAME, json.dumps(json_safe(record), indent=2) + "\n")
    return record


class MeteredPool:
  """A worker pool (``search.workers``) whose finished batches ``meter`` sees on their way
  to the driver; everything else is the pool's own."""

  def __init__(self, pool, meter: CostMeter):
    self._pool = pool
    self.meter = meter

  def wait(self, timeout: float | None = None):
    completed = self._pool.wait(timeout)
    self.meter.observe(completed)
    return completed

  def __getattr__(self, name: str):
    return getattr(self._pool, name)
