"""Tuned baselines on one task: each optimizer tuned by ``proxy_tasks.tuning``.

  python -m proxy_tasks.baselines --task mlp_digits [--optimizers adamw lion sgd_momentum]
                                  [--budget 32] [--space adamw:lr,wd] [--steps 300]
                                  [--seeds 0 1] [--out runs/baselines]

Every optimizer (a built-in program, ``python -m dsl list``) gets the same procedure and
budget of runs (``proxy_tasks.tuning``: learning rate, weight decay, betas and schedule, the
axes it has; ``--space NAME:AXIS,AXIS`` narrows one). Every run is scored by
``proxy_tasks.Evaluator`` on the task's seeds (the metric is their mean). The results go to
``<out>/<task>.json`` (written atomically): every run's point and metric, and each
optimizer's best point, its program, the runs it took and any optimum left on a hard limit;
a table is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys

from dsl.files import atomic_write, json_safe
from proxy_tasks import registry
from proxy_tasks import tuning
from proxy_tasks.evaluator import Evaluator

DEFAULT_OUT = pathlib.Path("runs/baselines")
DEFAULT_OPTIMIZERS = ("adamw", "lion")


def run(task_name: str, out: pathlib.Path = DEFAULT_OUT,
        optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS, budget: int = tuning.DEFAULT_BUDGET,
        narrowed: dict[str, list[str]] | None = None, **overrides) -> dict:
  """Tunes ``optimizers`` on the task, writes ``out/<task>.json`` atomically, returns it."""
  narrowed = narrowed or {}
  unknown = sorted(set(narrowed) - set(optimizers))
  if unknown:
    raise tuning.SpaceError(f"--space: '{unknown[0]}' is not one of the optimizers "
                            f"({', '.join(optimizers)})")
  spaces = {name: tuning.library_space(name, narrowed.get(name)) for name in optimizers}
  task = registry.resolve(task_name, **overrides)
  evaluator = Evaluator(task, normalize=False)
  tuned = tuning.tune(spaces, evaluator.metrics, budget)
  content = {"task": dataclasses.asdict(task.config),
             "metric": "validation metric, lower is better (proxy_tasks.tasks), mean over "
                       "the task's seeds",
             "budget": budget,
             "optimizers": {name: t.to_json() for name, t in tuned.items()}}
  write_json_atomic(out / f"{task.name}.json", content)
  return content


def write_json_atomic(path: pathlib.Path, content) -> None:
  """Writes ``content`` as JSON to ``path`` atomically (a crash leaves the old or the new file)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  atomic_write(path, json.dumps(json_safe(content), indent=2))


def format_table(content: dict) -> str:
  lines = []
  for name, t in content["optimizers"].items():
    best = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in t["best"].items())
    metric = t["best_metric"]
    flag = f"  OPTIMUM AT A LIMIT: {', '.join(t['at_limit'])}" if t["at_limit"] else ""
    metric_text = f"{metric:.5f}" if isinstance(metric, float) else str(metric)
    lines.append(f"{name:14s} {best:62s} {metric_text:>9s}  runs {t['runs']}/{t['budget']}{flag}")
  return "\n".join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m proxy_tasks.baselines", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--task", default=registry.DEFAULT_PROXY,
                      help=f"proxy task (default {registry.DEFAULT_PROXY}), or your own "
                      "package.module:factory")
  parser.add_argument("--optimizers", nargs="+", default=list(DEFAULT_OPTIMIZERS),
                      help=f"built-in programs to tune (default {' '.join(DEFAULT_OPTIMIZERS)})")
  parser.add_argument("--budget", type=int, default=tuning.DEFAULT_BUDGET,
                      help=f"tuning runs per optimizer (default {tuning.DEFAULT_BUDGET})")
  parser.add_argument("--space", action="append", default=[], metavar="NAME:AXIS,AXIS",
                      help="tune NAME over these axes only; repeatable")
  parser.add_argument("--steps", type=int, help="override the task's steps")
  parser.add_argument("--seeds", type=int, nargs="+", help="override the task's seeds")
  parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                      help=f"folder of the JSON results (default {DEFAULT_OUT})")
  args = parser.parse_args(argv)

  def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2

  overrides = {}
  if args.steps is not None:
    if args.steps < 1:
      return fail(f"--steps: expected a positive integer, got {args.steps}")
    overrides["steps"] = args.steps
  if args.seeds:
    overrides["seeds"] = tuple(args.seeds)
  if args.budget < 1:
    return fail(f"--budget: expected a positive integer, got {args.budget}")
  try:
    narrowed = tuning.parse_narrowed(args.space)
  except tuning.SpaceError as error:
    return fail(str(error))
  try:  # a registered name or a user's package.module:factory
    task = registry.check(args.task, **overrides)
  except registry.TaskError as error:
    return fail(f"--task: {error}")
  try:
    for name in args.optimizers:
      tuning.library_space(name, narrowed.get(name))
    content = run(args.task, args.out, tuple(args.optimizers), args.budget, narrowed,
                  **overrides)
  except tuning.SpaceError as error:
    return fail(f"--optimizers/--space: {error}")
  print(format_table(content))
  print(f"wrote {args.out / (task.name + '.json')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
