"""Meta-validation tasks: larger members of the proxy families, the funnel's two stages.

A program that wins on a tiny proxy often fails on a larger task (meta-overfitting; Chen et
al., 2023, Section 2.3 and Figure 3). Meta-validation tasks are larger members of the same
families (``proxy_tasks.scaled``: a wider/deeper model, bigger batches, more steps).
``python -m meta_validation.tasks`` measures what one AdamW run of each costs, relative to
its family's proxy (one slot, compilation excluded, CPU seconds of all threads: on a shared
machine the wall clock also counts other jobs); the larger tasks are timed over their first
``--measure-steps`` steps and extrapolated by the step count. The measured table is in
docs/results.md, "Measured costs".

The language-model family is the default judge of a search on ``mlp_digits``
(``configs/lion_search.yaml``): the search never sees it, and the digits tasks are nearly
saturated. Its two tasks are sized by their jobs, not by the names' factors: ``_10x`` is the
monitor's task, one run on a worker every ``every`` scored programs, so it must take a few
seconds; ``_100x`` is the funnel's last stage, which tunes AdamW and Lion, then scores a few
programs and the two baselines on 3 seeds. Both must still separate optimizers (tuned AdamW
and tuned Lion differ there by several times the spread over seeds: docs/results.md).

The metric of each family (``metric_name``): validation cross-entropy in nats for the digits
tasks, in nats per byte for the language model (perplexity ``e^x``), lower is better.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import dsl
import proxy_tasks
from proxy_tasks.scaled import SCALED, SCALES  # registered with proxy_tasks

# The largest language-model task whose replay (45 tuning runs, then 3 optimizers x 3 seeds
# with curves) takes a few minutes on a 2-core CPU (docs/results.md, "Measured costs").
DEFAULT_REPLAY_TASK = "lm_sklearn_text_10x"


def names() -> list[str]:
  """The built-in meta-validation tasks."""
  return [f"{family}_{scale}" for family in SCALED for scale in SCALES]


def family_of(task_name: str) -> str:
  """The proxy family of a task name (``mlp_digits_10x`` -> ``mlp_digits``; for an import
  path, ``pkg.tasks:make_task_10x`` -> ``pkg.tasks:make_task``)."""
  for scale in SCALES:
    if task_name.endswith("_" + scale):
      return task_name[: -len(scale) - 1]
  return task_name


def scaled_name(proxy_name: str, scale: str) -> str:
  """The meta-validation task of ``proxy_name`` at ``scale`` (``10x`` or ``100x``): the
  name with ``_<scale>``, also for an import path (``pkg.tasks:make_task_10x``, a factory of
  the user's larger task; a config names any other with ``funnel_task_10x``/``_100x``)."""
  if scale not in SCALES:
    raise ValueError(f"scale must be one of {', '.join(SCALES)}, got '{scale}'")
  return f"{family_of(proxy_name)}_{scale}"


def metric_name(task_name: str) -> str:
  """What ``task_name``'s validation metric is, in words (lower is better): the task's
  ``metric_name`` (``proxy_tasks.protocol``)."""
  task = proxy_tasks.resolve(task_name)
  return getattr(task, "metric_name", None) or "validation metric"


@dataclasses.dataclass(frozen=True)
class RunCost:
  """What one AdamW run of a task costs: wall-clock seconds and CPU seconds of this process
  (all its threads). CPU time is what the ratios use: on a shared machine the wall clock
  also counts the time other processes hold the cores."""
  wall_s: float
  cpu_s: float


def run_cost(task_name: str, measure_steps: int | None = None, **overrides) -> RunCost:
  """One AdamW run of ``task_name`` on a one-slot evaluator (compilation excluded); with
  ``measure_steps``, timed over at most that many steps and scaled to the task's steps."""
  full = proxy_tasks.get(task_name, seed=0, **overrides)
  steps = full.config.steps
  if measure_steps is not None and measure_steps < steps:
    task = proxy_tasks.get(task_name, seed=0, **{**overrides, "steps": measure_steps})
  else:
    task = full
  evaluator = proxy_tasks.Evaluator(task, slots=1, normalize=False)
  adamw = dsl.library.load("adamw")
  evaluator.evaluate([adamw])  # compile
  cpu = time.process_time()
  wall = time.perf_counter()
  evaluator.evaluate([adamw])
  scale = steps / task.config.steps
  return RunCost((time.perf_counter() - wall) * scale, (time.process_time() - cpu) * scale)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m meta_validation.tasks",
                                   description="Lists the meta-validation tasks and measures "
                                   "their cost relative to their family's proxy.")
  parser.add_argument("--measure-steps", type=int, default=300,
                      help="time the larger tasks over this many steps (default 300)")
  parser.add_argument("--families", nargs="+", default=list(SCALED),
                      help=f"families to measure (default: {' '.join(SCALED)})")
  parser.add_argument("--list", action="store_true", help="only list the names")
  args = parser.parse_args(argv)
  if args.list:
    print("\n".join(names()))
    return 0
  unknown = [f for f in args.families if f not in SCALED]
  if unknown:
    print(f"--families: unknown family '{unknown[0]}'; expected one of {', '.join(SCALED)}",
          file=sys.stderr)
    return 2
  if args.measure_steps < 1:
    print(f"--measure-steps: expected a positive integer, got {args.measure_steps}",
          file=sys.stderr)
    return 2
  print(f"{'task':24s} {'steps':>6s} {'wall s/run':>10s} {'cpu s/run':>10s} "
        f"{'x proxy (cpu)':>13s}")
  for family in args.families:
    base = run_cost(family)
    print(f"{family:24s} {proxy_tasks.config_of(family).steps:6d} {base.wall_s:10.3f} "
          f"{base.cpu_s:10.3f} {1.0:13.1f}", flush=True)
    for scale in SCALES:
      name = f"{family}_{scale}"
      cost = run_cost(name, args.measure_steps)
      print(f"{name:24s} {proxy_tasks.config_of(name).steps:6d} {cost.wall_s:10.3f} "
            f"{cost.cpu_s:10.3f} {cost.cpu_s / base.cpu_s:13.1f}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
