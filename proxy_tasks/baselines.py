"""Tuned baselines: AdamW and Lion over a learning-rate x weight-decay grid, on one task.

  python -m proxy_tasks.baselines --task mlp_digits [--steps 300] [--seeds 0 1] [--out runs/baselines]

The grids (``dsl.hyperparameters.GRIDS``) are made by rewriting the learning-rate and
weight-decay constants of the built-in programs (programs are data). Every point is scored by
``proxy_tasks.Evaluator`` (fitness normalised against the task's fitness reference, tuned
AdamW by default: the best AdamW point scores 0). The results go to ``<out>/<task>.json`` (written atomically: a
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
from dsl import hyperparameters
from dsl.files import atomic_write, json_float
from proxy_tasks import registry
from proxy_tasks.evaluator import Evaluator

DEFAULT_OUT = pathlib.Path("runs/baselines")


def run(task_name: str, out: pathlib.Path = DEFAULT_OUT, grids=None, **overrides) -> dict:
  """Scores the grids on the task, writes ``out/<task>.json`` atomically, returns its content."""
  grids = hyperparameters.GRIDS if grids is None else grids
  task = registry.resolve(task_name, **overrides)
  evaluator = Evaluator(task)
  points, programs = [], []
  for optimizer, spec in grids.items():
    for point, program in hyperparameters.grid(dsl.library.load(optimizer), spec):
      points.append({"optimizer": optimizer, **point})
      programs.append(program)
  for point, program, result in zip(points, programs, evaluator.evaluate(programs)):
    point.update(metric=json_float(result.metric), fitness=json_float(result.fitness),
                 normalized=json_float(result.normalized), status=result.status,
                 reason=result.reason, program=program.to_text())
  best = {}
  for point in points:
    current = best.get(point["optimizer"])
    if point["status"] == "ok" and (current is None or point["metric"] < current["metric"]):
      best[point["optimizer"]] = point
  content = {"task": dataclasses.asdict(task.config), "reference": task.config.fitness_reference,
             "reference_metric": evaluator.reference_metric,
             "metric": "validation metric, lower is better (proxy_tasks.tasks)",
             "points": points, "best": best}
  write_json_atomic(out / f"{task.name}.json", content)
  return content


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
                      help=f"proxy task (default {registry.DEFAULT_PROXY}), or your own "
                      "package.module:factory")
  parser.add_argument("--steps", type=int, help="override the task's steps")
  parser.add_argument("--seeds", type=int, nargs="+", help="override the task's seeds")
  parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                      help=f"folder of the JSON results (default {DEFAULT_OUT})")
  args = parser.parse_args(argv)
  overrides = {}
  if args.steps is not None:
    if args.steps < 1:
      print(f"--steps: expected a positive integer, got {args.steps}", file=sys.stderr)
      return 2
    overrides["steps"] = args.steps
  if args.seeds:
    overrides["seeds"] = tuple(args.seeds)
  try:  # a registered name or a user's package.module:factory
    task = registry.check(args.task, **overrides)
  except registry.TaskError as error:
    print(f"--task: {error}", file=sys.stderr)
    return 2
  content = run(args.task, args.out, **overrides)
  print(format_table(content))
  print(f"wrote {args.out / (task.name + '.json')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
