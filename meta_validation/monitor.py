"""The meta-overfitting monitor: the search's best program, scored now and then on a larger
task, next to its proxy fitness (Chen et al., 2023, Figure 3).

A pure decision object the search driver calls; it never trains anything itself, so the
driver can score the program it hands out on its own workers without stalling the search:

  monitor = Monitor(run_dir, task="lm_sklearn_text_10x", every=5000)
  ...after each scored program:
    program = monitor.due(scored, best_key, best_program, best_fitness)
    if program is not None:      # submit it to a worker, on the monitor's task
      ...
  ...when that result comes back (any time later):
    monitor.record(result_ticket, meta_fitness)   # appends a row, redraws the plot

Every ``every`` scored programs the current best is due once. If the best has not changed
since the last measured point, no new scoring is asked for: the point is recorded with the
earlier meta fitness. ``meta_validation.csv`` (``scored, key, proxy_fitness, meta_fitness``)
and ``meta_validation.png`` are rewritten atomically in the run folder; a new monitor on the
same folder (a resumed search) continues from the rows already there.

The workers score the monitor's program with ``evaluator`` (config
``meta_validation.evaluator: meta_validation.monitor:evaluator``): a one-slot
``proxy_tasks.Evaluator``. The search's evaluators train 8 slots at once, ``vmap``-ed, and an
empty slot costs as much as a full one, so a point (one program) would cost 8 runs there.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import pathlib

from dsl.program import Program
from dsl.files import atomic_write

CSV_NAME = "meta_validation.csv"
PLOT_NAME = "meta_validation.png"
COLUMNS = ("scored", "key", "proxy_fitness", "meta_fitness")


@dataclasses.dataclass(frozen=True)
class Ticket:
  """A pending meta-validation of one best program (hand it back to ``record``)."""
  scored: int
  key: str
  proxy_fitness: float


class Monitor:
  """Decides when the best program is due for meta-validation and records the curve.

  Args:
    run_dir: the search's run folder (``runs/<name>``).
    task: the meta-validation task the driver scores on (recorded, and in the plot title).
    every: scored programs between points.
  """

  def __init__(self, run_dir, task: str, every: int = 500):
    if every < 1:
      raise ValueError(f"monitor: every must be >= 1, got {every}")
    self.path = pathlib.Path(run_dir)
    self.task = task
    self.every = int(every)
    self.rows: list[dict] = self._read()
    self.next_at = (self.rows[-1]["scored"] // self.every + 1) * self.every if self.rows \
        else self.every
    self._meta_by_key = {r["key"]: r["meta_fitness"] for r in self.rows}

  def _read(self) -> list[dict]:
    path = self.path / CSV_NAME
    if not path.exists():
      return []
    rows = []
    for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
      rows.append({"scored": int(row["scored"]), "key": row["key"],
                   "proxy_fitness": float(row["proxy_fitness"] or "nan"),
                   "meta_fitness": float(row["meta_fitness"] or "nan")})
    return rows

  def due(self, scored: int, key: str, program: Program, proxy_fitness: float
          ) -> tuple[Ticket, Program] | None:
    """Called after each scored program with the current best; ``(ticket, program)`` when
    the driver should score ``program`` on ``self.task`` (then ``record(ticket, fitness)``),
    None otherwise (also when the best is unchanged: the point is recorded at once)."""
    if scored < self.next_at:
      return None
    self.next_at = (scored // self.every + 1) * self.every
    ticket = Ticket(int(scored), key, float(proxy_fitness))
    if key in self._meta_by_key:
      self.record(ticket, self._meta_by_key[key])
      return None
    return ticket, program

  def record(self, ticket: Ticket, meta_fitness: float) -> None:
    """Adds the point (sorted by ``scored``), rewrites the CSV and the plot."""
    meta_fitness = float(meta_fitness)
    self._meta_by_key[ticket.key] = meta_fitness
    self.rows.append({"scored": ticket.scored, "key": ticket.key,
                      "proxy_fitness": ticket.proxy_fitness, "meta_fitness": meta_fitness})
    self.rows.sort(key=lambda r: r["scored"])
    self.path.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in self.rows:
      writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) and math.isfinite(v)
                           else ("" if isinstance(v, float) else v)) for k, v in row.items()})
    atomic_write(self.path / CSV_NAME, buffer.getvalue())
    atomic_write(self.path / PLOT_NAME, self.plot())

  def plot(self) -> bytes:
    """PNG bytes: proxy fitness and meta-validation fitness of the best program against
    programs scored (the paper's Figure 3)."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axis = plt.subplots(figsize=(7, 4), constrained_layout=True)
    x = [r["scored"] for r in self.rows]
    axis.plot(x, [r["proxy_fitness"] for r in self.rows], marker="o", label="search (proxy)")
    axis.plot(x, [r["meta_fitness"] for r in self.rows], marker="s",
              label=f"meta-validation ({self.task})")
    axis.axhline(0.0, color="gray", linewidth=0.8, linestyle="--")
    axis.set_xlabel("programs scored")
    axis.set_ylabel("fitness of the best program: log(AdamW / metric)")
    axis.grid(alpha=0.3)
    axis.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def evaluator(name: str, **overrides):
  """The evaluator the workers score the monitor's programs with: task ``name`` (a
  meta-validation task, any registered one or a user's ``package.module:factory``) on one
  slot, as ``search.workers.build_evaluator`` calls a ``meta_validation.evaluator`` factory."""
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  return proxy_tasks.Evaluator(proxy_tasks.resolve(name, **overrides), slots=1)
