"""Tuned baselines: AdamW and Lion over a learning-rate x weight-decay grid, on one task.

  python -m proxy_tasks.baselines --task mlp_digits [--steps 300] [--seeds 0 1] [--out runs/baselines]

The grid is made by rewriting the constants of the built-in programs (programs are data): the
peak learning rate is the constant of the statement ``lr = lr * c`` (``c`` multiplies the
schedule parameter) and the weight decay the constant of ``wd = w * c`` (``c`` multiplies the
weights). Every point is scored by ``proxy_tasks.Evaluator`` (fitness normalised against the
default AdamW warm start). The results go to ``<out>/<task>.json`` (written atomically: a
temporary file renamed over the old one), with each point's program text, metric, fitness and
status and the best point of each optimizer; a table is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import sys

import dsl
from dsl.files import atomic_write
from dsl.program import Program, Statement
from proxy_tasks import registry
from proxy_tasks.evaluator import Evaluator

DEFAULT_OUT = pathlib.Path("runs/baselines")
GRIDS = {
    # Centred on the tuned optima of the digits tasks (AdamW's best lr was 1e-2 and Lion's 1e-3,
    # both at the top of an earlier, lower grid), with Lion's lr 10x smaller, as the paper advises.
    "adamw": {"lr": (1e-3, 3e-3, 1e-2, 3e-2), "wd": (0.0, 0.01, 0.1)},
    "lion": {"lr": (1e-4, 3e-4, 1e-3, 3e-3), "wd": (0.0, 0.1, 1.0)},
}


def _constant_position(statement: Statement, variable: str) -> int | None:
  """Where the constant of ``target = variable * c`` (or ``c * variable``) is, if it is one."""
  if statement.function != "*" or variable not in statement.args:
    return None
  for position, arg in enumerate(statement.args):
    if isinstance(arg, float):
      return position
  return None


def with_hyperparameters(program: Program, lr: float | None = None,
                         wd: float | None = None) -> Program:
  """``program`` with the constant of ``lr = lr * c`` set to ``lr`` and of ``wd = w * c`` set
  to ``wd``; raises ``ValueError`` if the program has no such statement."""
  statements = list(program.statements)
  for name, variable, value in (("learning rate", program.lr, lr),
                                ("weight decay", program.weights, wd)):
    if value is None:
      continue
    for index, statement in enumerate(statements):
      position = _constant_position(statement, variable)
      if position is not None:
        args = list(statement.args)
        args[position] = float(value)
        statements[index] = dataclasses.replace(statement, args=tuple(args))
        break
    else:
      raise ValueError(f"no '{variable} * constant' statement ({name}) in:\n{program.to_text()}")
  return program.replace(statements=tuple(statements))


def run(task_name: str, out: pathlib.Path = DEFAULT_OUT, grids=None, **overrides) -> dict:
  """Scores the grids on the task, writes ``out/<task>.json`` atomically, returns its content."""
  grids = GRIDS if grids is None else grids
  task = registry.get(task_name, **overrides)
  evaluator = Evaluator(task)
  points, programs = [], []
  for optimizer, grid in grids.items():
    base = dsl.library.load(optimizer)
    for lr in grid["lr"]:
      for wd in grid["wd"]:
        points.append({"optimizer": optimizer, "lr": lr, "wd": wd})
        programs.append(with_hyperparameters(base, lr=lr, wd=wd))
  for point, program, result in zip(points, programs, evaluator.evaluate(programs)):
    point.update(metric=_json_float(result.metric), fitness=_json_float(result.fitness),
                 normalized=_json_float(result.normalized), status=result.status,
                 reason=result.reason, program=program.to_text())
  best = {}
  for point in points:
    current = best.get(point["optimizer"])
    if point["status"] == "ok" and (current is None or point["metric"] < current["metric"]):
      best[point["optimizer"]] = point
  content = {"task": dataclasses.asdict(task.config), "adamw_metric": evaluator.adamw_metric,
             "metric": "validation metric, lower is better (proxy_tasks.tasks)",
             "points": points, "best": best}
  write_json_atomic(out / f"{task.name}.json", content)
  return content


def _json_float(value: float):
  return value if math.isfinite(value) else str(value)


def write_json_atomic(path: pathlib.Path, content) -> None:
  """Writes ``content`` as JSON to ``path`` atomically (a crash leaves the old or the new file)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  atomic_write(path, json.dumps(content, indent=2))


def format_table(content: dict) -> str:
  lines = [f"{'optimizer':10s} {'lr':>8s} {'wd':>6s} {'metric':>10s} {'fitness':>9s}  status"]
  for p in content["points"]:
    metric = p["metric"] if isinstance(p["metric"], float) else math.nan
    fitness = p["fitness"] if isinstance(p["fitness"], float) else -math.inf
    mark = " *" if content["best"].get(p["optimizer"]) is p else ""
    lines.append(f"{p['optimizer']:10s} {p['lr']:8.0e} {p['wd']:6.3g} {metric:10.5f} "
                 f"{fitness:9.4f}  {p['status']}{mark}")
  return "\n".join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m proxy_tasks.baselines", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--task", default=registry.DEFAULT_PROXY,
                      help=f"proxy task (default {registry.DEFAULT_PROXY})")
  parser.add_argument("--steps", type=int, help="override the task's steps")
  parser.add_argument("--seeds", type=int, nargs="+", help="override the task's seeds")
  parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                      help=f"folder of the JSON results (default {DEFAULT_OUT})")
  args = parser.parse_args(argv)
  if args.task not in registry.names():
    print(f"--task: unknown proxy task '{args.task}'; expected one of "
          f"{', '.join(registry.names())}", file=sys.stderr)
    return 2
  overrides = {}
  if args.steps is not None:
    if args.steps < 1:
      print(f"--steps: expected a positive integer, got {args.steps}", file=sys.stderr)
      return 2
    overrides["steps"] = args.steps
  if args.seeds:
    overrides["seeds"] = tuple(args.seeds)
  content = run(args.task, args.out, **overrides)
  print(format_table(content))
  print(f"wrote {args.out / (args.task + '.json')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
