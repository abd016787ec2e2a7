"""The run folder ``runs/<name>/``: what a search leaves for people and for a resume.

::

    config.yaml         the resolved config (every key)
    events.jsonl        one line per program that joined a population, in the order they joined:
                        seq, id, parent, island, mutation, key, fitness, status, seconds, worker,
                        metric, normalized, reason, program (text). The warm start is id 0.
                        status "cached": the fitness of an identical program, not trained again.
    checkpoint.json     the whole search state after the first ``events`` lines of events.jsonl
    metrics.csv         the search over time (one row every ``metrics_every_s``)
    progress.png        best / median fitness, cache hit rate, redundant statements, programs/s
    programs/           initial.py, best.py (pruned), top_01.py ... top_k (pruned), scored text
    meta_validation.csv the best program scored on the meta-validation task every N scored
    meta_validation.png programs, next to its proxy fitness (with ``meta_validation.task``)
    funnel/             funnel selection at the end (with ``meta_validation.funnel_at_end``)

Crash safety: whole files are written to a temporary file, fsynced and renamed over the old one
(``atomic_write``), so a reader sees the old or the new file, never a mix. The two logs are
append-only; a crash can tear only their last line, which ``read_jsonl``/``repair_log`` drop
(and cut from the file before anything is appended again). The checkpoint is written only after
the events it covers are fsynced, so replaying the newer events on top of it is always possible.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pathlib
from typing import Any, Iterable, Mapping, Sequence

from dsl.files import atomic_write  # re-exported: the run folder's writer

METRICS_COLUMNS = ("elapsed_s", "generated", "scored", "cached", "failed", "cache_hit_rate",
                   "redundant_fraction", "best_fitness", "median_fitness", "programs_per_s",
                   "driver_busy", "restarts")


def repair_log(path: str | os.PathLike) -> bool:
  """Cuts a torn last line (no final newline) off an append-only log; True if it cut one."""
  path = pathlib.Path(path)
  if not path.exists():
    return False
  with open(path, "rb+") as f:
    data = f.read()
    if not data or data.endswith(b"\n"):
      return False
    f.truncate(data.rfind(b"\n") + 1)
    f.flush()
    os.fsync(f.fileno())
  return True


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
  """The complete lines of a JSON-lines log (a torn last line is ignored)."""
  path = pathlib.Path(path)
  if not path.exists():
    return []
  data = path.read_bytes()
  complete = data[:data.rfind(b"\n") + 1]
  out = []
  for number, line in enumerate(complete.splitlines(), 1):
    if not line.strip():
      continue
    try:
      out.append(json.loads(line))
    except json.JSONDecodeError as e:
      raise ValueError(f"{path}:{number}: corrupt log line ({e.msg})") from None
  return out


def _json_number(value: Any) -> Any:
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


class RunFolder:
  """Reads and writes one run folder; see the module docstring for its layout."""

  def __init__(self, path: str | os.PathLike):
    self.path = pathlib.Path(path)
    self.programs = self.path / "programs"
    self.config_path = self.path / "config.yaml"
    self.events_path = self.path / "events.jsonl"
    self.checkpoint_path = self.path / "checkpoint.json"
    self.metrics_path = self.path / "metrics.csv"
    self.plot_path = self.path / "progress.png"
    self._events = None
    self._metrics = None

  # ---- opening ----------------------------------------------------------------------------
  def exists(self) -> bool:
    return self.config_path.exists()

  def create(self, config_yaml: str, initial_program_text: str) -> None:
    """A new run: the folder, its config and the initial program (never overwrites)."""
    if self.exists():
      raise FileExistsError(f"{self.path} already holds a run")
    self.programs.mkdir(parents=True, exist_ok=True)
    atomic_write(self.programs / "initial.py", initial_program_text)
    atomic_write(self.config_path, config_yaml)  # last: a folder with a config is a run

  def open_logs(self) -> None:
    """Opens the logs for appending, first cutting any torn last line."""
    repair_log(self.events_path)
    repair_log(self.metrics_path)
    new_metrics = not self.metrics_path.exists() or self.metrics_path.stat().st_size == 0
    self._events = open(self.events_path, "a", encoding="utf-8")
    self._metrics = open(self.metrics_path, "a", encoding="utf-8", newline="")
    if new_metrics:
      self._metrics.write(",".join(METRICS_COLUMNS) + "\n")
      self._metrics.flush()

  def close(self) -> None:
    for log in (self._events, self._metrics):
      if log is not None and not log.closed:
        log.flush()
        os.fsync(log.fileno())
        log.close()

  # ---- the logs -----------------------------------------------------------------------------
  def append_event(self, event: Mapping[str, Any]) -> None:
    """One line per program that joined a population; flushed to the OS at once (a killed
    process loses nothing written), fsynced by ``sync``."""
    line = json.dumps({k: _json_number(v) for k, v in event.items()}, separators=(",", ":"))
    self._events.write(line + "\n")
    self._events.flush()

  def events(self) -> list[dict[str, Any]]:
    return read_jsonl(self.events_path)

  def append_metrics(self, row: Mapping[str, Any]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        ["" if row.get(c) is None or (isinstance(row.get(c), float) and math.isnan(row[c]))
         else (f"{row[c]:.6g}" if isinstance(row[c], float) else row[c])
         for c in METRICS_COLUMNS])
    self._metrics.write(buffer.getvalue())
    self._metrics.flush()

  def metrics(self) -> list[dict[str, float]]:
    if not self.metrics_path.exists():
      return []
    text = self.metrics_path.read_text(encoding="utf-8")
    text = text[:text.rfind("\n") + 1]
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
      rows.append({k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()})
    return rows

  def sync(self) -> None:
    """Forces the logs to disk (before a checkpoint that claims their lines)."""
    for log in (self._events, self._metrics):
      if log is not None and not log.closed:
        log.flush()
        os.fsync(log.fileno())

  # ---- the checkpoint ---------------------------------------------------------------------
  def write_checkpoint(self, state_json: Mapping[str, Any]) -> None:
    self.sync()
    atomic_write(self.checkpoint_path, json.dumps(state_json, separators=(",", ":")))

  def read_checkpoint(self) -> dict[str, Any] | None:
    if not self.checkpoint_path.exists():
      return None
    try:
      return json.loads(self.checkpoint_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:  # atomic writes make this a foreign edit, not a crash
      raise ValueError(f"{self.checkpoint_path}: corrupt checkpoint ({e.msg})") from None

  # ---- programs and plots -----------------------------------------------------------------
  def write_programs(self, ranked: Sequence[tuple[float, int, str, str]]) -> None:
    """``programs/best.py`` and ``top_NN.py`` from ``(fitness, id, key, text)``, best first."""
    self.programs.mkdir(parents=True, exist_ok=True)
    for rank, (fitness, program_id, key, text) in enumerate(ranked, 1):
      header = (f"# Rank {rank} of run '{self.path.name}': program {program_id}, fitness "
                f"{fitness:.6g}, key {key[:16]}.\n")
      atomic_write(self.programs / f"top_{rank:02d}.py", header + text)
      if rank == 1:
        atomic_write(self.programs / "best.py", header + text)

  def write_plots(self, rows: Iterable[Mapping[str, float]] | None = None) -> None:
    """``progress.png``: the curves of metrics.csv against programs generated, like Figure 2
    of Chen et al. (2023)."""
    rows = list(self.metrics() if rows is None else rows)
    if not rows:
      return
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel

    x = [r["generated"] for r in rows]
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    panels = ((axes[0, 0], ("best_fitness", "median_fitness"), "fitness"),
              (axes[0, 1], ("cache_hit_rate", "driver_busy"), "fraction"),
              (axes[1, 0], ("redundant_fraction",), "redundant statements (fraction)"),
              (axes[1, 1], ("programs_per_s",), "programs/s (scored + cached)"))
    for axis, columns, label in panels:
      for column in columns:
        axis.plot(x, [r.get(column, math.nan) for r in rows], label=column)
      axis.set_xlabel("programs generated")
      axis.set_ylabel(label)
      axis.grid(alpha=0.3)
      if len(columns) > 1:
        axis.legend()
    figure.suptitle(f"run {self.path.name}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    atomic_write(self.plot_path, buffer.getvalue())
