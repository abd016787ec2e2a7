"""How a search shows itself: a live rich panel, or log lines (``--quiet``), and a summary."""

from __future__ import annotations

import math
import os
import sys
from typing import TextIO

from search.driver import Snapshot


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _number(value: float, digits: int = 4) -> str:
  return "-" if value is None or math.isnan(value) else f"{value:.{digits}g}"


def lines(snapshot: Snapshot) -> list[tuple[str, str]]:
  """The figures shown, as (label, text)."""
  s = snapshot
  return [
      ("elapsed", _hms(s.elapsed_s)),
      ("programs generated", f"{s.generated} / {s.max_programs}"),
      ("scored (failed)", f"{s.scored} ({s.failed})"),
      ("from the cache", f"{s.cached} (hit rate {s.cache_hit_rate:.1%})"),
      ("in flight / workers", f"{s.in_flight} / {s.workers}"),
      ("programs/s", _number(s.programs_per_s, 3)),
      ("best fitness", f"{_number(s.best_fitness)} (initial {_number(s.initial_fitness)})"),
      ("median fitness", _number(s.median_fitness)),
      ("redundant statements", _number(s.redundant_fraction, 3)),
      ("restarts", str(s.restarts)),
      ("driver busy", f"{s.driver_busy:.1%}"),
  ]


class LogProgress:
  """One line per update on ``stream`` (``--quiet``, or no terminal)."""

  def __init__(self, stream: TextIO = sys.stderr):
    self.stream = stream

  def __call__(self, snapshot: Snapshot) -> None:
    s = snapshot
    self.stream.write(
        f"[{_hms(s.elapsed_s)}] generated {s.generated}/{s.max_programs} scored {s.scored} "
        f"cached {s.cached} ({s.cache_hit_rate:.0%}) {s.programs_per_s:.3g} programs/s "
        f"best {_number(s.best_fitness)} median {_number(s.median_fitness)}\n")
    self.stream.flush()

  def log(self, message: str) -> None:
    self.stream.write(message + "\n")
    self.stream.flush()

  def close(self) -> None:
    pass


class LiveProgress:
  """A rich panel redrawn in place while the search runs."""

  def __init__(self, title: str):
    from rich.console import Console  # pylint: disable=import-outside-toplevel
    from rich.live import Live  # pylint: disable=import-outside-toplevel
    self.title = title
    self.console = Console(stderr=True)
    self.live = Live(self._render(None), console=self.console, refresh_per_second=2,
                     transient=False)
    self.live.start()

  def _render(self, snapshot: Snapshot | None):
    from rich.panel import Panel  # pylint: disable=import-outside-toplevel
    from rich.table import Table  # pylint: disable=import-outside-toplevel
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    if snapshot is None:
      table.add_row("starting", "scoring the initial program")
    else:
      for label, text in lines(snapshot):
        table.add_row(label, text)
    return Panel(table, title=self.title)

  def __call__(self, snapshot: Snapshot) -> None:
    self.live.update(self._render(snapshot))

  def log(self, message: str) -> None:
    self.live.console.log(message)

  def close(self) -> None:
    self.live.stop()


def summary(snapshot: Snapshot, run_path: str) -> str:
  """The end-of-run text; it points to the best program and the curves once they exist (a run
  stopped while its warm start was being tuned has neither yet)."""
  width = max(len(label) for label, _ in lines(snapshot))
  body = "\n".join(f"  {label:<{width}}  {text}" for label, text in lines(snapshot))
  files = [f"{label}: {path}" for label, path in (("best program", f"{run_path}/programs/best.py"),
                                                  ("curves", f"{run_path}/progress.png"))
           if os.path.exists(path)]
  return f"search {run_path}:\n{body}" + (f"\n  {'; '.join(files)}" if files else "")
