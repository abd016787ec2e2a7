"""``python -m search.compare``: search arms against each other, as Figure 2 of Chen et al. (2023).

::

    python -m search.compare --arm evolution runs/evolution_s0 runs/evolution_s1 \\
        --arm random runs/random_s* --arm constants runs/constants_s* --out figure2.png
    python -m search.compare runs/a runs/b --out ab.png    # each folder an arm of its own

An arm is a group of repeats (runs of one config with different seeds). For each run, its
curve is the best fitness found so far against the programs trained, read from its
``metrics.csv`` (``runlog.folder``): x is ``scored`` (programs the workers trained, the
warm start included; a cache hit trains nothing), or ``generated`` with ``--x generated``
(children, cache hits included: what ``budget.max_programs`` counts). Between rows the curve
is a step function: at x it is the best of the rows at or before x,

    best_r(x) = max { best_fitness of row i of run r : x_i <= x }.

All curves are sampled on one grid shared by every arm, ``--points`` values from the largest
first row to the smallest last row over all runs: every run is measured at every point (no
extrapolation), so at each x every arm has trained the same number of programs (equal
compute). Each arm's curve is the mean over its n runs with the standard error of the mean,

    mean(x) = (1/n) sum_r best_r(x),   SE(x) = std_r(best_r(x), ddof=1) / sqrt(n)

(no SE for one run). The table printed (Markdown) gives, per arm: its runs, the programs they
trained in all (mean and range), the best fitness at the grid's end (equal compute) and at
each run's own end (mean +- SE), and the CPU hours each run took (``cost.json``, mean) when
recorded. ``--csv`` writes the sampled curves. Bad input (a missing folder, no or a broken
``metrics.csv``, an arm without runs, runs that do not overlap) is one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import pathlib
import sys
from typing import Sequence

import numpy as np

from dsl.files import atomic_write
from search import cost

X_COLUMNS = {"scored": "programs trained", "generated": "programs generated (cache hits included)"}
EXIT_BAD_INPUT = 2


class CompareError(ValueError):
  """Bad input: one line, exit status 2."""


@dataclasses.dataclass(frozen=True)
class Curve:
  """One run's best fitness so far (``best``, non-decreasing) at the x of its rows."""
  run: pathlib.Path
  x: np.ndarray
  best: np.ndarray
  cpu_hours: float | None

  def at(self, grid: np.ndarray) -> np.ndarray:
    """The step function at ``grid``: the value of the last row at or before each x (NaN
    before the first row)."""
    index = np.searchsorted(self.x, grid, side="right") - 1
    return np.where(index >= 0, self.best[np.clip(index, 0, None)], np.nan)


@dataclasses.dataclass(frozen=True)
class Arm:
  name: str
  curves: list[Curve]


def _number(text: str, where: str, column: str) -> float:
  if text in ("", None):
    return math.nan
  try:
    return float(text)
  except ValueError:
    raise CompareError(f"{where}: column '{column}' must be a number, got {text!r}") from None


def read_curve(run: str | pathlib.Path, x_column: str = "scored") -> Curve:
  """The curve of run folder ``run`` from its ``metrics.csv`` (a torn last line, from a run
  still writing, is left out); ``CompareError`` naming the file for anything unusable."""
  run = pathlib.Path(run)
  if not run.is_dir():
    raise CompareError(f"{run}: no such run folder")
  path = run / "metrics.csv"
  try:
    text = path.read_text(encoding="utf-8")
  except FileNotFoundError:
    raise CompareError(f"{path}: missing (is {run} a run folder of search.run?)") from None
  except (OSError, UnicodeDecodeError) as e:
    raise CompareError(f"{path}: cannot read it ({e})") from None
  reader = csv.DictReader(io.StringIO(text[:text.rfind("\n") + 1]))
  for column in (x_column, "best_fitness"):
    if column not in (reader.fieldnames or ()):
      raise CompareError(f"{path}: no column '{column}' (columns: "
                         f"{', '.join(reader.fieldnames or ()) or 'none'})")
  xs, best = [], []
  for line, row in enumerate(reader, 2):
    x = _number(row[x_column], f"{path}:{line}", x_column)
    if math.isnan(x):
      raise CompareError(f"{path}:{line}: column '{x_column}' is empty")
    xs.append(x)
    best.append(_number(row["best_fitness"], f"{path}:{line}", "best_fitness"))
  if not xs:
    raise CompareError(f"{path}: no rows yet (the run writes one every "
                       "output.metrics_every_s)")
  order = np.argsort(xs, kind="stable")
  x = np.asarray(xs, dtype=float)[order]
  values = np.asarray(best, dtype=float)[order]
  values = np.fmax.accumulate(values)  # the best so far; fmax passes over NaN (no best yet)
  try:
    record = cost.read(run)
  except ValueError as e:
    raise CompareError(str(e)) from None
  return Curve(run, x, values, record["cpu_hours"] if record else None)


def common_grid(arms: Sequence[Arm], points: int) -> np.ndarray:
  """``points`` x values from the largest first x to the smallest last x over all runs."""
  curves = [c for arm in arms for c in arm.curves]
  start = max(curves, key=lambda c: c.x[0])
  end = min(curves, key=lambda c: c.x[-1])
  if start.x[0] > end.x[-1]:
    raise CompareError(f"the runs do not overlap: {end.run} ends at {end.x[-1]:g} programs, "
                       f"{start.run} starts at {start.x[0]:g}")
  return np.unique(np.linspace(start.x[0], end.x[-1], points).round())


def mean_and_error(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and standard error over axis 0 (the runs); SE is NaN for one run."""
  mean = np.mean(values, axis=0)
  if values.shape[0] < 2:
    return mean, np.full_like(mean, np.nan)
  return mean, np.std(values, axis=0, ddof=1) / math.sqrt(values.shape[0])


def _mean_error_text(values: Sequence[float]) -> str:
  values = np.asarray(values, dtype=float)
  mean, error = mean_and_error(values[:, None])
  shown = f"{mean[0]:.4f}"
  return shown + (f" ± {error[0]:.4f}" if math.isfinite(error[0]) else " ± -")


def table(arms: Sequence[Arm], grid: np.ndarray, x_column: str) -> str:
  """The Markdown table of the module docstring."""
  label = X_COLUMNS[x_column]
  lines = [f"| arm | runs | {label} (mean, range) | best fitness at {grid[-1]:g} {label} "
           f"(equal compute) | final best fitness | CPU hours per run |",
           "|---|---|---|---|---|---|"]
  for arm in arms:
    ends = [c.x[-1] for c in arm.curves]
    trained = f"{np.mean(ends):.0f} ({min(ends):.0f}-{max(ends):.0f})"
    at_grid_end = _mean_error_text([c.at(grid[-1:])[0] for c in arm.curves])
    final = _mean_error_text([c.best[-1] for c in arm.curves])
    hours = [c.cpu_hours for c in arm.curves if c.cpu_hours is not None]
    cpu = f"{np.mean(hours):.3g}" if hours else "-"
    if 0 < len(hours) < len(arm.curves):
      cpu += f" ({len(hours)} of {len(arm.curves)} runs recorded)"
    lines.append(f"| {arm.name} | {len(arm.curves)} | {trained} | {at_grid_end} | {final} "
                 f"| {cpu} |")
  return "\n".join(lines)


def write_csv(path: pathlib.Path, arms: Sequence[Arm], grid: np.ndarray, x_column: str) -> None:
  """The sampled curves: one row per grid point, mean and SE per arm."""
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow([x_column] + [f"{arm.name}_{s}" for arm in arms for s in ("mean", "se")])
  columns = []
  for arm in arms:
    columns.extend(mean_and_error(np.stack([c.at(grid) for c in arm.curves])))
  for i, x in enumerate(grid):
    writer.writerow([f"{x:g}"] + [f"{column[i]:.6g}" if math.isfinite(column[i]) else ""
                                  for column in columns])
  atomic_write(path, buffer.getvalue())


def plot(path: pathlib.Path, arms: Sequence[Arm], grid: np.ndarray, x_column: str) -> None:
  """The figure: per arm, the mean curve and a band of one standard error."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  figure, axis = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
  for arm in arms:
    mean, error = mean_and_error(np.stack([c.at(grid) for c in arm.curves]))
    line, = axis.plot(grid, mean, drawstyle="steps-post",
                      label=f"{arm.name} (n={len(arm.curves)})")
    if np.isfinite(error).any():
      axis.fill_between(grid, mean - error, mean + error, step="post", alpha=0.25,
                        color=line.get_color(), linewidth=0)
  axis.set_xlabel(X_COLUMNS[x_column])
  axis.set_ylabel("best fitness so far")
  axis.set_title("best fitness against compute: mean ± standard error over repeats")
  axis.grid(alpha=0.3)
  axis.legend()
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", dpi=110)
  plt.close(figure)
  atomic_write(path, buffer.getvalue())


class _Parser(argparse.ArgumentParser):
  def error(self, message):  # one line, no usage dump; argparse's status is 2 as well
    self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="python -m search.compare", description=__doc__.split("\n")[0],
                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("runs", nargs="*", metavar="RUN_DIR",
                      help="run folders, each an arm of its own (named after the folder); "
                      "give them before any --arm")
  parser.add_argument("--arm", nargs="+", action="append", default=[],
                      metavar=("NAME", "RUN_DIR"),
                      help="an arm: its name, then the run folders of its repeats; repeatable")
  parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("compare.png"),
                      help="the figure (PNG; default compare.png)")
  parser.add_argument("--csv", type=pathlib.Path, help="also write the sampled curves here")
  parser.add_argument("--x", choices=sorted(X_COLUMNS), default="scored",
                      help="x axis: scored (programs trained, default) or generated")
  parser.add_argument("--points", type=int, default=200, help="grid points (default 200)")
  return parser


def arms_of(runs: Sequence[str], groups: Sequence[Sequence[str]], x_column: str) -> list[Arm]:
  """The arms the command line names, their curves read; ``CompareError`` if one is bad."""
  named = [(pathlib.Path(run).name or str(run), [run]) for run in runs]
  for group in groups:
    name, folders = group[0], list(group[1:])
    if (pathlib.Path(name) / "metrics.csv").exists():
      raise CompareError(f"--arm {name}: the first value is the arm's name, then its run "
                         f"folders (--arm NAME RUN_DIR [RUN_DIR ...]); {name} is a run folder")
    if not folders:
      raise CompareError(f"--arm {name}: no run folders (expected --arm NAME RUN_DIR "
                         "[RUN_DIR ...])")
    named.append((name, folders))
  if not named:
    raise CompareError("no runs: give RUN_DIR ... or --arm NAME RUN_DIR [RUN_DIR ...]")
  seen = set()
  for name, _ in named:
    if name in seen:
      raise CompareError(f"arm '{name}' is given twice (name the arms apart with --arm)")
    seen.add(name)
  return [Arm(name, [read_curve(run, x_column) for run in folders]) for name, folders in named]


def main(argv: Sequence[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  try:
    if args.points < 2:
      raise CompareError(f"--points: expected at least 2, got {args.points}")
    for flag, path in (("--out", args.out), ("--csv", args.csv)):
      if path is not None and not path.parent.is_dir():
        raise CompareError(f"{flag} {path}: no folder {path.parent}")
    arms = arms_of(args.runs, args.arm, args.x)
    grid = common_grid(arms, args.points)
    plot(args.out, arms, grid, args.x)
    if args.csv is not None:
      write_csv(args.csv, arms, grid, args.x)
  except CompareError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except OSError as e:
    print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  print(table(arms, grid, args.x))
  print(f"\nfigure: {args.out}" + (f"; curves: {args.csv}" if args.csv else ""))
  return 0


if __name__ == "__main__":
  sys.exit(main())
